//go:build !linux

package main

import "syscall"

// childProcAttr has no parent-death signal outside Linux: children of a killed
// parallel run finish their current run on their own.
func childProcAttr() *syscall.SysProcAttr { return nil }
