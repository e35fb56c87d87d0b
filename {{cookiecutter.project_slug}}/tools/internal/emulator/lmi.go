package emulator

// Lambda Managed Instances (Config.LMI): AWS_LAMBDA_INITIALIZATION_TYPE is
// lambda-managed-instances, a registration that asks for INVOKE is refused, the
// environment never freezes, and invocations run several at once in runtime workers
// the extension never hears of: it waits in /event/next until SHUTDOWN, and learns of
// each request only through the Telemetry API, in the 2025-01-29 schema.

import (
	"fmt"
	"sync"
	"time"
)

const (
	lmiInitializationType = "lambda-managed-instances"
	lmiTelemetrySchema    = "2025-01-29"
	// DefaultLMIConcurrency is how many invocations run at once in LMI mode.
	DefaultLMIConcurrency = 4
)

// initializationType is what AWS_LAMBDA_INITIALIZATION_TYPE and the init records say.
func (e *Emulator) initializationType() string {
	if e.cfg.LMI {
		return lmiInitializationType
	}
	return emulatedInitializationType
}

// lmiRefusesRegistration reports why an LMI environment refuses these events ("" if
// it does not).
func (e *Emulator) lmiRefusesRegistration(events []string) string {
	if !e.cfg.LMI {
		return ""
	}
	for _, ev := range events {
		if ev == "INVOKE" {
			return "register: INVOKE on Lambda Managed Instances, which accept SHUTDOWN only (Lambda refuses the registration and the function's init fails)"
		}
	}
	return ""
}

// lmiSchemaProblem says what is wrong with a subscription's schema in LMI mode.
func (e *Emulator) lmiSchemaProblem(schema string) string {
	if e.cfg.LMI && schema != lmiTelemetrySchema {
		return fmt.Sprintf("schemaVersion %q: Lambda Managed Instances take %s only", schema, lmiTelemetrySchema)
	}
	return ""
}

// lmiInvokes runs cfg.Invokes invocations, Spacing apart and up to LMIConcurrency
// at once, while the extension waits in next: each one's records go to the
// Telemetry API when it ends. It reports whether to go on to SHUTDOWN.
func (d *driver) lmiInvokes() bool {
	e := d.e
	cfg := e.cfg
	slots := make(chan struct{}, max(cfg.LMIConcurrency, 1))
	var wg sync.WaitGroup
	for i := range cfg.Invokes {
		if i > 0 && !d.pause(cfg.Spacing) {
			wg.Wait()
			return false
		}
		slots <- struct{}{}
		requestID := newUUID()
		began := time.Now()
		e.mu.Lock()
		e.report.LMIInvocations++
		e.event(began, "invocation", requestID+" (LMI: no INVOKE event to extensions)")
		e.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			timer := time.NewTimer(cfg.FunctionDuration)
			defer timer.Stop()
			select {
			case <-timer.C:
			case <-e.gone:
				return
			}
			end := time.Now()
			e.mu.Lock()
			e.event(end, "invocation done", requestID)
			e.mu.Unlock()
			e.telemetryPhase(Phase{Kind: PhaseRuntimeDone, RequestID: requestID, Start: began, End: end})
			e.telemetryPhase(Phase{Kind: PhaseInvoke, RequestID: requestID, Start: began, End: end})
		}()
	}
	wg.Wait()
	return true
}
