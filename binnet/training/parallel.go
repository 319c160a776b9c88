package training

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/distributed"
)

// DataParallelAxis names the device-mesh axis along which DataParallel
// splits each batch.
const DataParallelAxis = "data"

// DataParallelSpecs returns the device mesh of a data-parallel training step
// over the given number of devices and the sharding of the training graph's
// inputs (images, labels, learning rate): the
// batch axis of the images and labels is split across the devices, the rest
// is replicated, and so are the variables (the Store's default).
func DataParallelSpecs(devices, imageRank int) (*distributed.DeviceMesh, []*distributed.ShardingSpec, error) {
	mesh, err := distributed.NewDeviceMesh([]int{devices}, []string{DataParallelAxis})
	if err != nil {
		return nil, nil, err
	}
	images := distributed.BuildSpec(mesh).S(DataParallelAxis)
	for i := 1; i < imageRank; i++ {
		images = images.R()
	}
	x, err := images.Done()
	if err != nil {
		return nil, nil, err
	}
	labels, err := distributed.BuildSpec(mesh).S(DataParallelAxis).Done()
	if err != nil {
		return nil, nil, err
	}
	rep := distributed.NewReplicatedShardingSpec(mesh)
	return mesh, []*distributed.ShardingSpec{x, labels, rep}, nil
}

// DataParallel makes the engine's training step run on several devices of
// its backend: every batch is split along its first axis, each device
// computes its part, and XLA's SPMD partitioner inserts the all-reduces of
// the gradients and of batch norm's statistics, so that the step computes
// exactly what one device computes on the whole batch (batch norm over the
// global batch, like PyTorch's SyncBatchNorm). Call it before the first
// step. The batch size must be a multiple of devices.
//
// It needs a backend with several devices (XLA on GPUs); GoMLX's pure-Go
// backend has one device and no distributed execution, so DataParallel(1)
// does nothing and DataParallel(n > 1) returns an error there.
func (e *Engine) DataParallel(devices int) error {
	if devices == 1 {
		return nil
	}
	if devices < 1 {
		return fmt.Errorf("training: data parallel over %d devices", devices)
	}
	if err := checkDevices(e.Backend, devices); err != nil {
		return err
	}
	mesh, specs, err := DataParallelSpecs(devices, 1+len(e.Network.InputShape()))
	if err != nil {
		return err
	}
	if len(e.stages) > 0 || e.gatedTrain != nil {
		return fmt.Errorf("training: DataParallel must be called before the first step")
	}
	e.mesh, e.specs = mesh, specs
	e.devices = devices
	return nil
}

func checkDevices(b compute.Backend, devices int) error {
	if have := b.NumDevices(); have < devices {
		return fmt.Errorf("training: data parallel over %d devices, but backend %s has %d (the pure-Go backend has one; use XLA on a multi-GPU machine)", devices, b.Name(), have)
	}
	return nil
}
