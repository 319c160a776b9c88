package schedule

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/binnet/binnet/binnet"
)

// scheduleJSON is the JSON form of a Schedule: 1-based layers and epochs.
type scheduleJSON struct {
	Kind            Kind        `json:"kind"`
	NumLayers       int         `json:"num_layers"`
	Order           []int       `json:"order,omitempty"`
	BinaryLayers    []int       `json:"binary_layers,omitempty"`
	EpochsPerStage  int         `json:"epochs_per_stage,omitempty"`
	LayersPerStage  int         `json:"layers_per_stage,omitempty"`
	TotalEpochs     int         `json:"total_epochs"`
	FreezeBinarized bool        `json:"freeze_binarized,omitempty"`
	Stages          []stageJSON `json:"stages,omitempty"`
}

type stageJSON struct {
	Stage      int   `json:"stage"`
	FirstEpoch int   `json:"first_epoch"`
	LastEpoch  int   `json:"last_epoch"`
	Binary     []int `json:"binary"`
	Frozen     []int `json:"frozen,omitempty"`
}

func zeroBased(layers []int) []int {
	if layers == nil {
		return nil
	}
	out := make([]int, len(layers))
	for i, l := range layers {
		out[i] = l - 1
	}
	return out
}

func oneBased(layers []int) []int {
	out := make([]int, len(layers))
	for i, l := range layers {
		out[i] = l + 1
	}
	return out
}

// MarshalJSON writes the schedule for people and result files, with 1-based
// layer numbers and epochs:
//
//	{"kind":"iterative","num_layers":3,"order":[1,3,2],"epochs_per_stage":2,
//	 "layers_per_stage":1,"total_epochs":6,
//	 "stages":[{"stage":1,"first_epoch":1,"last_epoch":2,"binary":[1]}, ...]}
//
// A fixed schedule also has "binary_layers", its (sorted) binary layers.
// "binary" lists the layers whose forward pass uses sign(w), "frozen" (only
// with freeze_binarized) those of them that no longer train; "last_epoch" is
// inclusive.
func (s *Schedule) MarshalJSON() ([]byte, error) {
	c := s.cfg
	j := scheduleJSON{
		Kind:            c.Kind,
		NumLayers:       c.NumLayers,
		EpochsPerStage:  c.EpochsPerStage,
		LayersPerStage:  c.LayersPerStage,
		TotalEpochs:     c.TotalEpochs,
		FreezeBinarized: c.FreezeBinarized,
	}
	if c.Order != nil {
		j.Order = oneBased(c.Order)
	}
	if c.Binary != nil {
		j.BinaryLayers = oneBased(c.Binary)
	}
	for _, st := range s.stages {
		sj := stageJSON{
			Stage:      st.Index + 1,
			FirstEpoch: st.FirstEpoch + 1,
			LastEpoch:  st.EndEpoch,
			Binary:     oneBased(st.Binary),
		}
		for _, l := range st.Binary {
			if st.Modes[l] == binnet.Frozen {
				sj.Frozen = append(sj.Frozen, l+1)
			}
		}
		j.Stages = append(j.Stages, sj)
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the form written by MarshalJSON and validates it as
// New does. The "stages" field is derived from the others and ignored;
// unknown fields are rejected.
func (s *Schedule) UnmarshalJSON(b []byte) error {
	var j scheduleJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("schedule: bad JSON: %w", err)
	}
	c := Config{
		NumLayers:       j.NumLayers,
		Kind:            j.Kind,
		EpochsPerStage:  j.EpochsPerStage,
		LayersPerStage:  j.LayersPerStage,
		TotalEpochs:     j.TotalEpochs,
		FreezeBinarized: j.FreezeBinarized,
	}
	c.Order = zeroBased(j.Order)
	c.Binary = zeroBased(j.BinaryLayers)
	ns, err := New(c)
	if err != nil {
		return err
	}
	*s = *ns
	return nil
}
