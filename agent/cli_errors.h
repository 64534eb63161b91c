// Command-line errors under the error contract of docs/CLI.md: what CLI11 refused, turned into
// one kInvalidArgument Status that names the word or option at fault and the --help to read, and
// the validators that keep numbers honest.
//
// Why our own number validators: CLI11 2.1 converts with strtoll/strtoull, base 0, and never
// looks at errno, so "99999999999999999999999" became the largest int64 without a word, "010"
// was octal 8 and a negative number given to an unsigned option wrapped around.
//
// Thread-safety: free functions; the validators are immutable once built.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>

#include "common/status.h"

namespace aura::agent {

// The Status for a command line that `app` (the top-level app, after parse threw `e`) refused:
// kInvalidArgument with "<what was wrong>: <what to do>", the what naming the unknown command
// word ("unknown command 'migrate chek'"), the unexpected argument, or the option and its value.
// Not for CLI::Success (--help, --version), which is not an error.
Status UsageError(const CLI::ParseError& e, CLI::App& app);

// A whole number written in decimal digits (a leading '-' only when `min` < 0), from `min` to
// `max` inclusive; the value is passed on normalized ("007" -> "7") so CLI11 cannot read it as
// octal.
CLI::Validator WholeNumber(int64_t min, int64_t max);

// A decimal number of seconds from `min` to `max` (no nan, no inf).
CLI::Validator SecondsBetween(double min, double max);

}  // namespace aura::agent
