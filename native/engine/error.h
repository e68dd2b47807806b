// lrp::Error: the engine's one exception type, carrying the stable code the JavaScript LrpError shows.
#pragma once
#include <stdexcept>
#include <string>

namespace lrp {

class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

}  // namespace lrp
