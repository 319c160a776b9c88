package training

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/binnet/binnet/internal/atomicfile"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// CheckpointFile is the name of the checkpoint inside a run's output folder.
const CheckpointFile = "checkpoint.bin"

// checkpointMagic opens every checkpoint file; the version follows it.
const (
	checkpointMagic   = "BINNETCK"
	checkpointVersion = uint32(1)
)

// ErrCorruptCheckpoint is wrapped by every error about a damaged checkpoint.
var ErrCorruptCheckpoint = errors.New("corrupt checkpoint")

// checkpointVar describes one variable stored in a checkpoint.
type checkpointVar struct {
	Path   string `json:"path"`
	DType  string `json:"dtype"`
	Dims   []int  `json:"dims"`
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
}

// checkpointMeta is the JSON header of a checkpoint.
type checkpointMeta struct {
	Fingerprint json.RawMessage `json:"fingerprint"`
	Epochs      int             `json:"epochs_done"`
	History     []EpochRecord   `json:"history"`
	Variables   []checkpointVar `json:"variables"`
}

// Checkpoint layout (little endian):
//
//	"BINNETCK" | version uint32 | header length uint64 | header JSON |
//	variable data | SHA-256 of everything before it (32 bytes)
func encodeCheckpoint(store *model.Store, meta checkpointMeta) ([]byte, error) {
	var vars []*model.Variable
	for v := range store.IterVariables() {
		if v.HasValue() && !isScratch(v.Scope()) {
			vars = append(vars, v)
		}
	}
	sort.Slice(vars, func(i, j int) bool { return vars[i].Path() < vars[j].Path() })
	var data bytes.Buffer
	meta.Variables = nil
	for _, v := range vars {
		t, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("checkpoint: reading variable %s: %w", v.Path(), err)
		}
		cv := checkpointVar{Path: v.Path(), DType: t.DType().String(), Dims: t.Shape().Dimensions, Offset: int64(data.Len())}
		if err := t.ConstBytes(func(b []byte) { data.Write(b) }); err != nil {
			return nil, fmt.Errorf("checkpoint: reading variable %s: %w", v.Path(), err)
		}
		cv.Length = int64(data.Len()) - cv.Offset
		meta.Variables = append(meta.Variables, cv)
	}
	header, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.WriteString(checkpointMagic)
	binary.Write(&out, binary.LittleEndian, checkpointVersion)
	binary.Write(&out, binary.LittleEndian, uint64(len(header)))
	out.Write(header)
	out.Write(data.Bytes())
	sum := sha256.Sum256(out.Bytes())
	out.Write(sum[:])
	return out.Bytes(), nil
}

// writeCheckpoint saves the store and the run's state to path atomically.
func writeCheckpoint(path string, store *model.Store, meta checkpointMeta) error {
	blob, err := encodeCheckpoint(store, meta)
	if err != nil {
		return err
	}
	return writeFile(path, blob, 0o644)
}

// writeFile writes checkpoints and results atomically; tests replace it to
// make a write fail (a full disk) at a chosen point of a run.
var writeFile = atomicfile.WriteFile

func corruptf(path, format string, args ...any) error {
	return fmt.Errorf("checkpoint %s: %w: %s", path, ErrCorruptCheckpoint, fmt.Sprintf(format, args...))
}

// decodeCheckpoint validates a checkpoint's bytes and returns its header and
// its variables as tensors.
func decodeCheckpoint(path string, blob []byte) (*checkpointMeta, map[string]*tensors.Tensor, error) {
	const fixed = len(checkpointMagic) + 4 + 8
	if len(blob) < fixed+sha256.Size {
		return nil, nil, corruptf(path, "file is %d bytes, shorter than the %d-byte minimum", len(blob), fixed+sha256.Size)
	}
	if string(blob[:len(checkpointMagic)]) != checkpointMagic {
		return nil, nil, corruptf(path, "bad magic at offset 0: got %q, want %q", blob[:len(checkpointMagic)], checkpointMagic)
	}
	version := binary.LittleEndian.Uint32(blob[len(checkpointMagic):])
	if version != checkpointVersion {
		return nil, nil, corruptf(path, "unsupported version %d at offset %d (this binnet reads version %d)", version, len(checkpointMagic), checkpointVersion)
	}
	body := blob[:len(blob)-sha256.Size]
	sum := sha256.Sum256(body)
	if !bytes.Equal(sum[:], blob[len(body):]) {
		return nil, nil, corruptf(path, "SHA-256 mismatch: the file is truncated or damaged")
	}
	hlen := binary.LittleEndian.Uint64(blob[len(checkpointMagic)+4:])
	if hlen > uint64(len(body)-fixed) {
		return nil, nil, corruptf(path, "header length %d at offset %d exceeds the file", hlen, len(checkpointMagic)+4)
	}
	var meta checkpointMeta
	dec := json.NewDecoder(bytes.NewReader(body[fixed : fixed+int(hlen)]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&meta); err != nil {
		return nil, nil, corruptf(path, "header JSON at offset %d: %v", fixed, err)
	}
	data := body[fixed+int(hlen):]
	values := make(map[string]*tensors.Tensor, len(meta.Variables))
	for _, cv := range meta.Variables {
		dtype, ok := dtypes.MapOfNames[cv.DType]
		if !ok {
			return nil, nil, corruptf(path, "variable %s: unknown dtype %q", cv.Path, cv.DType)
		}
		for _, d := range cv.Dims {
			if d < 0 {
				return nil, nil, corruptf(path, "variable %s: negative dimension in %v", cv.Path, cv.Dims)
			}
		}
		shape := shapes.Make(dtype, cv.Dims...)
		if cv.Offset < 0 || cv.Length != int64(shape.Memory()) || cv.Offset+cv.Length > int64(len(data)) {
			return nil, nil, corruptf(path, "variable %s: %d bytes at data offset %d, want %d bytes within %d", cv.Path, cv.Length, cv.Offset, shape.Memory(), len(data))
		}
		t := tensors.FromShape(shape)
		if err := t.MutableBytes(func(b []byte) { copy(b, data[cv.Offset:cv.Offset+cv.Length]) }); err != nil {
			return nil, nil, err
		}
		values[cv.Path] = t
	}
	return &meta, values, nil
}

// readCheckpoint reads and validates path. It returns os.ErrNotExist (wrapped)
// when there is no checkpoint.
func readCheckpoint(path string) (*checkpointMeta, map[string]*tensors.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	blob, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return decodeCheckpoint(path, blob)
}

// restoreVariables puts checkpointed values into the store, creating the
// variables that do not exist yet.
func restoreVariables(store *model.Store, values map[string]*tensors.Tensor) error {
	for path, t := range values {
		if v := store.GetVariable(path); v != nil {
			if !v.Shape().Equal(t.Shape()) {
				return fmt.Errorf("checkpoint: variable %s has shape %s, the model wants %s", path, t.Shape(), v.Shape())
			}
			if err := v.SetValue(t); err != nil {
				return err
			}
			continue
		}
		if _, err := store.CreateVariable(path, t); err != nil {
			return fmt.Errorf("checkpoint: restoring %s: %w", path, err)
		}
	}
	return nil
}

// Checkpoint is a checkpoint read back from disk.
type Checkpoint struct {
	Path       string                     // the file it was read from, as given to ReadCheckpoint
	EpochsDone int                        // epochs completed when it was written
	History    []EpochRecord              // the history up to then
	Values     map[string]*tensors.Tensor // every variable of the store, by path (e.g. "/model/dense1/weights")
}

// IsCheckpointFile reports whether the file at path starts as a binnet
// training checkpoint does (its magic bytes), damaged or not: what a command
// must not overwrite with another kind of file.
func IsCheckpointFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, len(checkpointMagic))
	if _, err := io.ReadFull(f, head); err != nil {
		return false
	}
	return string(head) == checkpointMagic
}

// ReadCheckpoint reads and validates a checkpoint file (magic, version,
// sizes, SHA-256). Errors about damaged files wrap ErrCorruptCheckpoint and
// name the file.
func ReadCheckpoint(path string) (*Checkpoint, error) {
	meta, values, err := readCheckpoint(path)
	if err != nil {
		return nil, err
	}
	return &Checkpoint{Path: path, EpochsDone: meta.Epochs, History: meta.History, Values: values}, nil
}

// Restore puts the checkpoint's variables into store, creating the ones it
// does not have yet; build graphs on the store afterwards to use them.
func (c *Checkpoint) Restore(store *model.Store) error { return restoreVariables(store, c.Values) }
