package main

import (
	"time"
)

// streamEvents makes a copying command's --json output the event stream
// of `apply --json` (version, plan, steps, "transfer" progress, result,
// then done or error) instead of one result object, so a pipeline can
// follow a long copy. A dry run or --plan-out keeps its plan output. The
// returned function ends the stream with the command's error.
func (a *app) streamEvents() func(error) error {
	if a.g.DryRun || a.g.PlanOut != "" {
		return func(err error) error { return err }
	}
	if a.rep.Events = a.pr.EventStream(time.Now); a.rep.Events == nil {
		return func(err error) error { return err }
	}
	return func(err error) error {
		if err != nil {
			a.rep.Events.Error(err, exitCode(err))
			return &silentError{err}
		}
		a.rep.Events.Done(nil)
		return nil
	}
}
