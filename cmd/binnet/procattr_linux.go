package main

import "syscall"

// childProcAttr makes the kernel send SIGTERM to a child of a parallel run
// when binnet itself dies (even by SIGKILL), so no orphan keeps training and
// holding its folder's lock; the child stops at its next epoch boundary with
// its checkpoint intact.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
