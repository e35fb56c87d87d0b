package main

import "context"

// benchCompanion: this variant has no companion (companion=none).
func benchCompanion(context.Context, options, string, string, func(string, ...any)) (Companion, error) {
	return Companion{Kind: "none", Reason: "n/a in this variant: no companion (companion=none)", Load: [][]float64{}}, nil
}
