package extension

import (
	"log/slog"

	"{{ cookiecutter.go_module }}/extension/internal/config"
)

// initializationTypeLMI is AWS_LAMBDA_INITIALIZATION_TYPE on Lambda Managed Instances:
// the environment runs several invocations at once, never freezes, sends extensions
// no INVOKE and refuses a registration that asks for it.
const initializationTypeLMI = "lambda-managed-instances"

// isLMI reports whether the extension runs on Lambda Managed Instances.
func isLMI(lookup config.LookupFunc) bool {
	v, _ := lookup("AWS_LAMBDA_INITIALIZATION_TYPE")
	return v == initializationTypeLMI
}

// LMI reports whether the extension runs on Lambda Managed Instances
// (AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances): no INVOKE events reach
// Invoke, invocations run concurrently, the environment never freezes, and
// per-request data comes only from the Telemetry API (platform.start,
// platform.runtimeDone, platform.report carry the requestId).
func (x *Extension) LMI() bool { return x.lmi }

// logLMI says once, at init, what running on Lambda Managed Instances changes.
func logLMI(log *slog.Logger, lmi, telemetry bool) {
	switch {
	case !lmi:
	case telemetry:
		log.Info("Lambda Managed Instances: registered for SHUTDOWN only; per-request data comes from the Telemetry API")
	default:
		log.Warn("Lambda Managed Instances: registered for SHUTDOWN only, so per-invocation hooks (Invoke, AfterInvoke) do not run, and without the Telemetry API this extension sees no per-request data")
	}
}
