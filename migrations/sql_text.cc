// Statement splitting and tokenizing. One scanner knows SQLite's lexical rules for strings
// ('..'), quoted names ("..", [..], `..`) and comments (-- to end of line, /* .. */); the
// splitter asks sqlite3_complete() at every ';' outside them whether the statement is over (so a
// trigger body's ';' ends nothing), and the tokenizer uses the same scanner.
#include "migrations/sql_text.h"

#include <sqlite3.h>

#include <cctype>
#include <optional>
#include <string>

#include "migrations/sql_internal.h"

namespace aura::migrations {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsWordStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool IsWordChar(char c) {
  return IsWordStart(c) || std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '$';
}
bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

char CloserOf(char open) {
  switch (open) {
    case '[':
      return ']';
    default:
      return open;
  }
}

// Walks `text`, counting lines. Every Skip/Read function starts at the current position.
class Scanner {
 public:
  // A UTF-8 byte order mark (Windows tools, `dotnet ef ... --output` among them, write one) is
  // not part of the SQL.
  explicit Scanner(std::string_view text) : text_(text) {
    if (text_.starts_with("\xEF\xBB\xBF")) pos_ = 3;
  }

  bool Done() const { return pos_ >= text_.size(); }
  size_t pos() const { return pos_; }
  int line() const { return line_; }
  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }

  // Skips whitespace and comments. Returns the line of an unterminated /* comment, if any.
  std::optional<int> SkipBlanks() {
    while (!Done()) {
      char c = Peek();
      if (IsSpace(c)) {
        Advance();
      } else if (c == '-' && Peek(1) == '-') {
        while (!Done() && Peek() != '\n') Advance();
      } else if (c == '/' && Peek(1) == '*') {
        int start = line_;
        Advance();
        Advance();
        while (!Done() && !(Peek() == '*' && Peek(1) == '/')) Advance();
        if (Done()) return start;
        Advance();
        Advance();
      } else {
        break;
      }
    }
    return std::nullopt;
  }

  // At an opening quote: moves past the closing one and returns the unquoted content, or nullopt
  // when the text ends first.
  std::optional<std::string> ReadQuoted() {
    char open = Peek();
    char close = CloserOf(open);
    Advance();
    std::string value;
    while (!Done()) {
      char c = Peek();
      Advance();
      if (c != close) {
        value.push_back(c);
      } else if (close != ']' && Peek() == close) {
        value.push_back(c);
        Advance();
      } else {
        return value;
      }
    }
    return std::nullopt;
  }

  std::string ReadWhile(bool (*pred)(char)) {
    size_t start = pos_;
    while (!Done() && pred(Peek())) Advance();
    return std::string(text_.substr(start, pos_ - start));
  }

  std::string ReadNumber() {
    size_t start = pos_;
    while (!Done()) {
      char c = Peek();
      bool exponent_sign = (c == '+' || c == '-') && pos_ > start &&
                           (text_[pos_ - 1] == 'e' || text_[pos_ - 1] == 'E') &&
                           !(text_[start] == '0' && pos_ - start > 1 &&
                             (text_[start + 1] == 'x' || text_[start + 1] == 'X'));
      if (!(IsWordChar(c) || c == '.' || exponent_sign)) break;
      Advance();
    }
    return std::string(text_.substr(start, pos_ - start));
  }

  void Advance() {
    if (text_[pos_] == '\n') ++line_;
    ++pos_;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
};

const char* QuoteKindName(char open) {
  return open == '\'' ? "unterminated string" : "unterminated quoted name";
}

bool IsQuote(char c) { return c == '\'' || c == '"' || c == '`' || c == '['; }

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

void Emit(std::vector<internal::StatementSpan>& out, std::string_view text, size_t begin,
          size_t sql_end, size_t end, int line) {
  std::string_view sql = TrimRight(text.substr(begin, sql_end - begin));
  if (sql.empty()) return;
  out.push_back({SqlStatement{std::string(sql), line}, begin, end});
}

}  // namespace

namespace internal {

Result<std::vector<StatementSpan>> SplitStatementSpans(std::string_view text,
                                                       std::string_view file) {
  std::vector<StatementSpan> out;
  Scanner sc(text);
  size_t region = 0;  // where the current statement's text (with its leading blanks) starts
  std::optional<size_t> first;
  int first_line = 0;
  auto error = [&](int line, std::string_view what) {
    return InvalidArgument(std::string(file) + ":" + std::to_string(line) + ": " +
                           std::string(what));
  };
  while (true) {
    if (auto open = sc.SkipBlanks()) return error(*open, "unterminated comment");
    if (sc.Done()) break;
    if (!first) {
      first = sc.pos();
      first_line = sc.line();
    }
    char c = sc.Peek();
    if (IsQuote(c)) {
      int line = sc.line();
      if (!sc.ReadQuoted()) return error(line, QuoteKindName(c));
      continue;
    }
    sc.Advance();
    if (c != ';') continue;
    std::string candidate(text.substr(region, sc.pos() - region));
    if (sqlite3_complete(candidate.c_str()) == 0) continue;
    Emit(out, text, *first, sc.pos() - 1, sc.pos(), first_line);
    region = sc.pos();
    first.reset();
  }
  if (first) Emit(out, text, *first, text.size(), text.size(), first_line);
  return out;
}

std::string ReadQualifiedName(const std::vector<Token>& tokens, size_t& i) {
  auto is_name = [&](size_t k) {
    return k < tokens.size() &&
           (tokens[k].kind == TokenKind::kWord || tokens[k].kind == TokenKind::kQuotedName ||
            tokens[k].kind == TokenKind::kString);
  };
  if (!is_name(i)) return "";
  if (PunctAt(tokens, i + 1, '.') && is_name(i + 2)) i += 2;
  return tokens[i++].text;
}

bool KeywordAt(const std::vector<Token>& tokens, size_t i, std::string_view keyword) {
  return i < tokens.size() && tokens[i].IsKeyword(keyword);
}

bool PunctAt(const std::vector<Token>& tokens, size_t i, char c) {
  return i < tokens.size() && tokens[i].kind == TokenKind::kPunct && tokens[i].text.size() == 1 &&
         tokens[i].text[0] == c;
}

std::string At(const std::string& file, int line, std::string_view message) {
  return file + ":" + std::to_string(line) + ": " + std::string(message);
}

Status TransactionWrappers::Begin(int line) {
  if (open_line_ != 0) {
    return Refused(At(file_, line,
                      "BEGIN inside the transaction begun at line " + std::to_string(open_line_) +
                          "; add the COMMIT that closes it"));
  }
  open_line_ = line;
  return Status::Ok();
}

Status TransactionWrappers::Commit(int line) {
  if (open_line_ == 0) {
    return Refused(At(file_, line,
                      "COMMIT without a BEGIN TRANSACTION before it; remove it or add the BEGIN"));
  }
  open_line_ = 0;
  return Status::Ok();
}

Status TransactionWrappers::Finish() const {
  if (open_line_ == 0) return Status::Ok();
  return Refused(At(file_, open_line_, "BEGIN TRANSACTION is never committed; add its COMMIT;"));
}

}  // namespace internal

Result<std::vector<SqlStatement>> SplitStatements(std::string_view text, std::string_view file) {
  AURA_ASSIGN_OR_RETURN(auto spans, internal::SplitStatementSpans(text, file));
  std::vector<SqlStatement> out;
  out.reserve(spans.size());
  for (auto& span : spans) out.push_back(std::move(span.statement));
  return out;
}

bool Token::IsName(std::string_view name) const {
  return (kind == TokenKind::kWord || kind == TokenKind::kQuotedName) && SameName(text, name);
}

bool Token::IsKeyword(std::string_view keyword) const {
  return kind == TokenKind::kWord && SameName(text, keyword);
}

std::vector<Token> Tokenize(std::string_view sql) {
  std::vector<Token> tokens;
  Scanner sc(sql);
  while (true) {
    if (sc.SkipBlanks()) break;  // an unterminated comment runs to the end
    if (sc.Done()) break;
    char c = sc.Peek();
    if ((c == 'x' || c == 'X') && sc.Peek(1) == '\'') {
      sc.Advance();  // blob literal X'..': a string of hex digits
      tokens.push_back({TokenKind::kString, sc.ReadQuoted().value_or("")});
    } else if (IsQuote(c)) {
      TokenKind kind = c == '\'' ? TokenKind::kString : TokenKind::kQuotedName;
      std::optional<std::string> value = sc.ReadQuoted();
      tokens.push_back({kind, value.value_or("")});
      if (!value) break;
    } else if (IsWordStart(c)) {
      tokens.push_back({TokenKind::kWord, sc.ReadWhile(IsWordChar)});
    } else if (IsDigit(c) || (c == '.' && IsDigit(sc.Peek(1)))) {
      tokens.push_back({TokenKind::kNumber, sc.ReadNumber()});
    } else {
      sc.Advance();
      tokens.push_back({TokenKind::kPunct, std::string(1, c)});
    }
  }
  return tokens;
}

}  // namespace aura::migrations
