package view

import (
	"errors"
	"fmt"
	"io"
)

// TypedError is what an error implements, in any package, to be reported as
// Ganeti reports an OpPrereqError: a failed prerequisite with a
// classification such as "unknown_entity", "wrong_state", "wrong_input",
// "already_exists", "insufficient_resources", "environment_error". An empty
// ErrorType means a failed prerequisite without classification.
// view finds it anywhere in the wrap chain (errors.As).
type TypedError interface {
	error
	ErrorType() string
}

// ExecError is what an error implements to be reported as Ganeti reports an
// OpExecError: "Failure: command execution error:".
type ExecError interface {
	error
	ExecFailure()
}

// Failure writes err as Ganeti's CLI reports a failed command (to stderr):
//
//	Failure: prerequisites not met for this operation:
//	error type: unknown_entity, error details:
//	Instance 'nosuchinst' not known
//
// For a TypedError the message is the typed error's own (wrapping context is
// left out, as Ganeti shows only the error's arguments). An ExecError prints
// "Failure: command execution error:\n<msg>"; any other error "Failure: <msg>".
//
//	view.Failure(s.Err, err)
func Failure(w io.Writer, err error) error {
	_, werr := io.WriteString(w, FailureText(err)+"\n")
	return werr
}

// FailureText is the text Failure prints, without the final newline.
func FailureText(err error) string {
	if te, ok := errors.AsType[TypedError](err); ok {
		if t := te.ErrorType(); t != "" {
			return fmt.Sprintf("Failure: prerequisites not met for this operation:\nerror type: %s, error details:\n%s", t, te.Error())
		}
		return "Failure: prerequisites not met for this operation:\n" + te.Error()
	}
	if ee, ok := errors.AsType[ExecError](err); ok {
		return "Failure: command execution error:\n" + ee.Error()
	}
	return "Failure: " + err.Error()
}

// JSONError is the --json form of a failure: {"error": {...}} on one line.
type JSONError struct {
	Error JSONErrorBody `json:"error"`
}

// JSONErrorBody is the body of a JSONError.
type JSONErrorBody struct {
	Type     string `json:"type"` // ErrorType of a TypedError, "execution" for an ExecError, "" otherwise
	Message  string `json:"message"`
	ExitCode int    `json:"exit_code"`
	// Details are a DetailedError's structured form (an allocator's
	// refusal: why each node could not take the instance).
	Details any `json:"details,omitempty"`
}

// DetailedError is what an error implements to give --json a structured
// form of itself besides its message.
type DetailedError interface {
	error
	ErrorDetails() any
}

// FailureJSON writes err as one JSON line {"error": {"type", "message",
// "exit_code"}} (to stdout in --json mode). The CLI passes the exit code it
// will return.
//
//	view.FailureJSON(s.Out, err, code)
func FailureJSON(w io.Writer, err error, exitCode int) error {
	body := JSONErrorBody{Message: err.Error(), ExitCode: exitCode}
	if te, ok := errors.AsType[TypedError](err); ok {
		body.Type, body.Message = te.ErrorType(), te.Error()
	} else if ee, ok := errors.AsType[ExecError](err); ok {
		body.Type, body.Message = "execution", ee.Error()
	}
	if de, ok := errors.AsType[DetailedError](err); ok {
		body.Details = de.ErrorDetails()
	}
	return JSONLine(w, JSONError{body})
}
