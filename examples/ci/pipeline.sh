#!/bin/sh
# CI pipeline for a ganetictl cluster kept in git as a desired-state file.
#
#   pipeline.sh plan   # on a merge request: show what would change
#   pipeline.sh apply  # on merge to the main branch: make it so
#
# Environment:
#   GANETICTL_INVENTORY  the cluster inventory (default cluster.toml)
#   GANETICTL_STATE_DIR  the state directory the runner keeps (default: the
#                        inventory's state.dir)
#   DESIRED              the desired-state file (default desired.toml)
#   ARTIFACTS            where the plan and the event stream are archived
#                        (default ./artifacts)
#   ALLOW_DESTROY        set to 1 to let the pipeline remove instances
#
# Exit status: plan exits 0 with no changes, 2 with changes (the job can
# mark the merge request), anything else is an error. apply exits 0 on
# success; its JSON event stream (one object per line) is archived.
set -eu

mode=${1:?usage: pipeline.sh plan|apply}
desired=${DESIRED:-desired.toml}
artifacts=${ARTIFACTS:-artifacts}
ganetictl=${GANETICTL:-ganetictl}
mkdir -p "$artifacts"

set --
if [ "${ALLOW_DESTROY:-0}" = 1 ]; then
	set -- --allow-destroy
fi

case $mode in
plan)
	rc=0
	"$ganetictl" plan -f "$desired" --detailed-exitcode "$@" >"$artifacts/plan.txt" || rc=$?
	cat "$artifacts/plan.txt"
	"$ganetictl" --json plan -f "$desired" "$@" >"$artifacts/plan.json" || true
	case $rc in
	0) echo "No changes." ;;
	2) echo "Changes pending: see the plan above (archived in $artifacts/plan.txt)." ;;
	*) echo "plan failed (exit $rc)" >&2; exit "$rc" ;;
	esac
	# Report "changes pending" as success to the review job; set
	# PLAN_FAIL_ON_CHANGES=1 to fail it instead.
	if [ "$rc" = 2 ] && [ "${PLAN_FAIL_ON_CHANGES:-0}" = 1 ]; then exit 2; fi
	;;
apply)
	rc=0
	"$ganetictl" --json apply -f "$desired" --yes "$@" >"$artifacts/events.jsonl" || rc=$?
	# A human summary of the stream: every finished step and the outcome.
	grep -E '"type":"(step_finished|result|done|error)"' "$artifacts/events.jsonl" || true
	if [ "$rc" != 0 ]; then
		echo "apply failed (exit $rc); events in $artifacts/events.jsonl" >&2
		exit "$rc"
	fi
	# The cluster must now match the file.
	"$ganetictl" plan -f "$desired" --detailed-exitcode "$@" >"$artifacts/post-apply-plan.txt"
	;;
*)
	echo "usage: pipeline.sh plan|apply" >&2
	exit 80
	;;
esac
