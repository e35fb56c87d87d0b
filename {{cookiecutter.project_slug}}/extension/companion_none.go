package extension

import (
	"context"
	"log/slog"

	"{{ cookiecutter.go_module }}/extension/internal/config"
)

// This bake has no companion (the template's companion answer was none): the
// extension serves nothing to the function.
type companion struct{}

func openCompanion(*config.Reader, config.LookupFunc, string, *slog.Logger) *companion { return nil }

func (*companion) start() error               { return nil }
func (*companion) stop(context.Context) error { return nil }
func (*companion) counts() []any              { return nil }
