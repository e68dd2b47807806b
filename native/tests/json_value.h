// A tiny JSON reader for the native tests (cases.json, model.json): objects, arrays, strings, numbers, literals.
#pragma once
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace lrp::test {

struct Json {
  enum class Type { Null, Bool, Number, String, Array, Object } type = Type::Null;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Json> array;
  std::map<std::string, Json> object;

  bool isNull() const { return type == Type::Null; }
  bool has(const std::string& key) const { return type == Type::Object && object.count(key) > 0; }
  const Json& operator[](const std::string& key) const {
    auto it = object.find(key);
    if (type != Type::Object || it == object.end()) throw std::runtime_error("JSON has no key '" + key + "'");
    return it->second;
  }
  const Json& operator[](size_t index) const {
    if (type != Type::Array || index >= array.size()) throw std::runtime_error("JSON index out of range");
    return array[index];
  }
  size_t size() const { return type == Type::Array ? array.size() : object.size(); }
  double num() const {
    if (type != Type::Number) throw std::runtime_error("JSON value is not a number");
    return number;
  }
  const std::string& str() const {
    if (type != Type::String) throw std::runtime_error("JSON value is not a string");
    return string;
  }
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& text) : text_(text) {}

  Json parse() {
    Json value = parseValue();
    skipSpace();
    if (pos_ != text_.size()) fail("trailing characters");
    return value;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("JSON: " + what + " at offset " + std::to_string(pos_));
  }
  void skipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\r' || text_[pos_] == '\t')) ++pos_;
  }
  bool consume(char c) {
    skipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!consume(c)) fail(std::string("expected '") + c + "'");
  }

  Json parseValue() {
    skipSpace();
    if (pos_ >= text_.size()) fail("unexpected end");
    Json v;
    const char c = text_[pos_];
    if (c == '{') {
      ++pos_;
      v.type = Json::Type::Object;
      if (consume('}')) return v;
      do {
        skipSpace();
        std::string key = parseString();
        expect(':');
        v.object[key] = parseValue();
      } while (consume(','));
      expect('}');
    } else if (c == '[') {
      ++pos_;
      v.type = Json::Type::Array;
      if (consume(']')) return v;
      do v.array.push_back(parseValue());
      while (consume(','));
      expect(']');
    } else if (c == '"') {
      v.type = Json::Type::String;
      v.string = parseString();
    } else if (text_.compare(pos_, 4, "true") == 0) {
      pos_ += 4;
      v.type = Json::Type::Bool;
      v.boolean = true;
    } else if (text_.compare(pos_, 5, "false") == 0) {
      pos_ += 5;
      v.type = Json::Type::Bool;
    } else if (text_.compare(pos_, 4, "null") == 0) {
      pos_ += 4;
    } else if (text_.compare(pos_, 3, "NaN") == 0) {
      pos_ += 3;
      v.type = Json::Type::Number;
      v.number = std::numeric_limits<double>::quiet_NaN();
    } else {
      const char* start = text_.c_str() + pos_;
      char* end = nullptr;
      v.number = std::strtod(start, &end);
      if (end == start) fail("unexpected character");
      pos_ += size_t(end - start);
      v.type = Json::Type::Number;
    }
    return v;
  }

  std::string parseString() {
    if (pos_ >= text_.size() || text_[pos_] != '"') fail("expected a string");
    ++pos_;
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      char c = text_[pos_++];
      if (c == '\\') {
        if (pos_ >= text_.size()) fail("bad escape");
        const char e = text_[pos_++];
        switch (e) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'u': {
            // Enough for the test files: ASCII escapes only, anything else becomes '?'.
            const unsigned code = unsigned(std::stoul(text_.substr(pos_, 4), nullptr, 16));
            pos_ += 4;
            out += code < 128 ? char(code) : '?';
            break;
          }
          default: out += e;
        }
      } else {
        out += c;
      }
    }
    if (pos_ >= text_.size()) fail("unterminated string");
    ++pos_;
    return out;
  }

  const std::string& text_;
  size_t pos_ = 0;
};

inline Json readJson(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw std::runtime_error("cannot open " + path);
  std::stringstream buffer;
  buffer << file.rdbuf();
  const std::string text = buffer.str();
  return JsonParser(text).parse();
}

}  // namespace lrp::test
