package view_test

import (
	"errors"
	"os"
	"time"

	"github.com/ganetictl/ganetictl/internal/view"
)

type node struct {
	Name  string
	MFree int64 // MiB
	Pinst int
	Off   bool
}

var nodeSpec = view.ListSpec[node]{
	Fields: []view.Field[node]{
		{Name: "name", Title: "Node", Get: func(n node) any { return n.Name }},
		{Name: "mfree", Title: "MFree", Kind: view.KindUnit, Get: func(n node) any { return n.MFree }},
		{Name: "pinst_cnt", Title: "Pinst", Kind: view.KindNumber, Get: func(n node) any { return n.Pinst }},
		{Name: "offline", Title: "Offline", Kind: view.KindBool, Get: func(n node) any { return n.Off }},
	},
	Default: []string{"name", "mfree", "pinst_cnt"},
}

func ExampleRenderList() {
	nodes := []node{{"node1.gref.test", 22938, 0, false}, {"node2.gref.test", 324, 12, true}}
	view.RenderList(os.Stdout, nodeSpec, nodes, view.ListOpts{Fields: "+offline"})
	view.RenderList(os.Stdout, nodeSpec, nodes, view.ListOpts{Fields: "name,offline", JSON: true})
	// Output:
	// Node            MFree Pinst Offline
	// node1.gref.test 22.4G     0 N
	// node2.gref.test  324M    12 Y
	// [
	//   {
	//     "name": "node1.gref.test",
	//     "offline": false
	//   },
	//   {
	//     "name": "node2.gref.test",
	//     "offline": true
	//   }
	// ]
}

func ExampleRenderInfo() {
	// Keys whose value is a nested Info, a map or a list print as "key: "
	// with a trailing space (not shown here: examples trim it), then the
	// children indented by two.
	n := view.Info{}.
		Add("Node name", "node2.gref.test").
		Add("master candidate", true).
		Add("offline", false).
		Add("disks", view.Inline{"xenvg", 2}).
		Add("port", nil)
	view.RenderInfo(os.Stdout, []view.Info{n})
	// Output:
	// - Node name: node2.gref.test
	//   master candidate: True
	//   offline: False
	//   disks: [xenvg, 2]
	//   port: None
}

func ExampleVerify() {
	at := time.Date(2026, 11, 25, 7, 5, 17, 0, time.UTC)
	v := view.NewVerify(os.Stdout, view.VerifyOpts{Now: func() time.Time { return at }})
	v.Section("Verifying node status")
	v.Error("ENODESSH", "node", "node2.gref.test", "ssh connection failed")
	v.Close()
	// Output:
	// Wed Nov 25 07:05:17 2026 * Verifying node status
	// Wed Nov 25 07:05:17 2026   - ERROR: node node2.gref.test: ssh connection failed
}

type notFound struct{ what string }

func (e notFound) Error() string     { return e.what + " not known" }
func (e notFound) ErrorType() string { return "unknown_entity" }

func ExampleFailure() {
	view.Failure(os.Stdout, notFound{"Instance 'nosuchinst'"})
	view.Failure(os.Stdout, errors.New("state is locked"))
	view.FailureJSON(os.Stdout, notFound{"Instance 'nosuchinst'"}, 1)
	// Output:
	// Failure: prerequisites not met for this operation:
	// error type: unknown_entity, error details:
	// Instance 'nosuchinst' not known
	// Failure: state is locked
	// {"error":{"type":"unknown_entity","message":"Instance 'nosuchinst' not known","exit_code":1}}
}
