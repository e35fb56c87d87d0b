// Package extension runs an AWS Lambda extension: it is the only package of this
// project that the processor imports.
//
// An extension is a client of the Extensions API that Lambda serves at
// $AWS_LAMBDA_RUNTIME_API. Run registers with Lambda under the executable's file
// name, reads the settings, builds the Handler with the processor's constructor,
// then loops: each INVOKE goes to the Handler before the extension asks for the next
// event, and SHUTDOWN (or SIGINT/SIGTERM locally) ends the process with exit code 0
// before Lambda's deadline. Fatal problems are reported to Lambda and end the process
// with exit code 1. Every exit path logs one "records" line:
//
//	{"msg":"records","offered":3,"flushed":3,"failed":0,"dropped":0,"unflushed":0}
//
// # Sync or async
//
// The constructor decides how the work runs. A sync processor returns itself, a
// Handler whose Invoke does the work inline:
//
//	func New(x *extension.Extension) (extension.Handler, error) {
//		return &Processor{log: x.Log}, nil
//	}
//
// An async processor returns a Batcher around two functions of its own, one that
// turns an event into a record and one that flushes a batch of records:
//
//	func New(x *extension.Extension) (extension.Handler, error) {
//		p := &Processor{log: x.Log}
//		return extension.NewBatcher(x, p.Record, p.Flush), nil
//	}
//
// # Settings
//
// Every setting is an environment variable of the function that starts with
// Prefix. Built in: PREFIX_LOG_LEVEL (debug, info, warn, error; default info) and
// PREFIX_SHUTDOWN_MARGIN (time kept free before every deadline Lambda gives,
// 50ms to 1s, default 200ms); the Batcher's and the telemetry listener's are
// listed with them. The processor reads its own through Extension.Settings; a bad
// value of any of them is reported to Lambda as Extension.ConfigInvalid, every bad
// variable named, when the constructor returns.
//
// Maintainer: {{ cookiecutter.author }}
package extension
