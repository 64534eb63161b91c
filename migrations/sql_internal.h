// Internals shared by the migrations library's SQL readers (not part of its interface): statement
// spans with byte offsets (for per-migration checksums of EF scripts), token helpers, and the
// BEGIN/COMMIT bookkeeping every source parser does.
//
// Thread-safety: pure functions and plain values.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "migrations/sql_text.h"

namespace aura::migrations::internal {

struct StatementSpan {
  SqlStatement statement;
  size_t begin = 0;  // offset of its first token in the text
  size_t end = 0;    // offset just past its ';' (or the end of the text)
};

// SplitStatements with each statement's byte range.
Result<std::vector<StatementSpan>> SplitStatementSpans(std::string_view text,
                                                       std::string_view file);

// "[schema.]name" starting at tokens[i]: the name, and `i` moved past it. Empty when tokens[i]
// is not a name.
std::string ReadQualifiedName(const std::vector<Token>& tokens, size_t& i);

// tokens[i] is a word equal to `keyword` (false past the end).
bool KeywordAt(const std::vector<Token>& tokens, size_t i, std::string_view keyword);
// tokens[i] is the punctuation character `c`.
bool PunctAt(const std::vector<Token>& tokens, size_t i, char c);

// "FILE:LINE: message".
std::string At(const std::string& file, int line, std::string_view message);

// Tracks `BEGIN TRANSACTION;` / `COMMIT;` wrappers in a source file.
class TransactionWrappers {
 public:
  explicit TransactionWrappers(const std::string& file) : file_(file) {}
  Status Begin(int line);
  Status Commit(int line);
  // kRefused when a BEGIN was never committed.
  Status Finish() const;

 private:
  const std::string& file_;
  int open_line_ = 0;  // 0: none open
};

}  // namespace aura::migrations::internal
