package fault

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestArmTake(t *testing.T) {
	dir := t.TempDir()
	if err := Arm(dir, "lvs", Spec{Remaining: 2, ExitCode: 5, Stderr: "boom\n"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "lvs"))
	if got, want := string(b), `{"remaining":2,"exit_code":5,"stderr":"boom\n"}`+"\n"; got != want {
		t.Fatalf("file = %q, want %q", got, want)
	}
	for i := 0; i < 2; i++ {
		s, ok, err := Take(dir, "lvs")
		if err != nil || !ok || s.ExitCode != 5 || s.Stderr != "boom\n" {
			t.Fatalf("take %d: %+v %v %v", i, s, ok, err)
		}
	}
	if _, ok, err := Take(dir, "lvs"); ok || err != nil {
		t.Fatalf("third take: ok=%v err=%v", ok, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "lvs")); !os.IsNotExist(err) {
		t.Fatalf("fault file left behind: %v", err)
	}
}

func TestTakeConcurrent(t *testing.T) {
	dir := t.TempDir()
	if err := Arm(dir, "lvcreate", Spec{Remaining: 7, ExitCode: 3}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	taken := 0
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok, err := Take(dir, "lvcreate")
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				taken++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if taken != 7 {
		t.Fatalf("taken %d times, want 7", taken)
	}
}

func TestValidate(t *testing.T) {
	for _, s := range []Spec{{Remaining: 0, ExitCode: 1}, {Remaining: 1, ExitCode: 0}, {Remaining: 1, ExitCode: 256}} {
		if s.Validate() == nil {
			t.Errorf("%+v: want error", s)
		}
	}
}
