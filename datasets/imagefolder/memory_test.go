package imagefolder_test

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/binnet/binnet/datasets/imagefolder"
)

// Reading a 500-file folder keeps no decoded image: after every file has
// gone through Batch, the heap has grown by far less than the 500 decoded
// images would take (500 × 96×96 gray = 4.6 MB, and 3 times that as RGB).
func TestMemoryBounded(t *testing.T) {
	root, _, _ := digitFolder(t, 5, 100, 96, imagefolder.WriteOptions{Quality: 75})
	f := open(t, root, imagefolder.Options{Size: 32, ResizeSize: 36, Workers: 2})
	if f.Len() != 500 {
		t.Fatalf("Len() = %d", f.Len())
	}
	const bs = 50
	x := make([]float32, bs*32*32*3)
	y := make([]int32, bs)
	rng := rand.New(rand.NewPCG(1, 1))
	order := rng.Perm(f.Len())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for from := 0; from < f.Len(); from += bs {
		if err := f.Batch(order[from:from+bs], rng, x, y); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap %d → %d bytes (%+d) after Batch over all %d files; %d bytes allocated in all",
		before.HeapAlloc, after.HeapAlloc, grown, f.Len(), after.TotalAlloc-before.TotalAlloc)
	if grown > 512<<10 {
		t.Errorf("heap grew by %d bytes after reading every file once", grown)
	}
	if len(f.Skipped()) != 0 {
		t.Errorf("skipped %v", f.Skipped())
	}
	runtime.KeepAlive(x)
}
