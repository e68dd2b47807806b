// A tiny .npy reader for the native tests: little-endian float32 / float64 / int64 / int32 arrays in C order.
#pragma once
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace lrp::test {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<double> values;  // every supported dtype widened exactly to double

  int64_t size() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  std::vector<float> toFloat() const { return std::vector<float>(values.begin(), values.end()); }
};

inline NpyArray readNpy(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("cannot open " + path);
  std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) throw std::runtime_error(path + ": not a .npy file");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t headerLength, offset;
  if (major == 1) {
    headerLength = static_cast<unsigned char>(bytes[8]) | (size_t(static_cast<unsigned char>(bytes[9])) << 8);
    offset = 10;
  } else {
    if (bytes.size() < 12) throw std::runtime_error(path + ": truncated header");
    headerLength = 0;
    for (int i = 0; i < 4; ++i) headerLength |= size_t(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    offset = 12;
  }
  if (offset + headerLength > bytes.size()) throw std::runtime_error(path + ": truncated header");
  const std::string header(bytes.data() + offset, headerLength);
  auto field = [&](const std::string& key) {
    const size_t at = header.find("'" + key + "'");
    if (at == std::string::npos) throw std::runtime_error(path + ": header has no " + key);
    return header.substr(header.find(':', at) + 1);
  };
  const std::string descrField = field("descr");
  const size_t q0 = descrField.find('\''), q1 = descrField.find('\'', q0 + 1);
  const std::string descr = descrField.substr(q0 + 1, q1 - q0 - 1);
  if (field("fortran_order").find("True") < field("fortran_order").find(',')) throw std::runtime_error(path + ": Fortran order");
  NpyArray array;
  const std::string shapeField = field("shape");
  const size_t open = shapeField.find('('), close = shapeField.find(')');
  std::string dims = shapeField.substr(open + 1, close - open - 1);
  for (size_t pos = 0; pos < dims.size();) {
    const size_t comma = dims.find(',', pos);
    const std::string item = dims.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (item.find_first_of("0123456789") != std::string::npos) array.shape.push_back(std::stoll(item));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  const char* data = bytes.data() + offset + headerLength;
  const int64_t count = array.size();
  int width;
  if (descr == "<f4" || descr == "<i4") width = 4;
  else if (descr == "<f8" || descr == "<i8") width = 8;
  else throw std::runtime_error(path + ": unsupported dtype " + descr);
  if (size_t(count) * width > bytes.size() - offset - headerLength) throw std::runtime_error(path + ": truncated data");
  array.values.resize(size_t(count));
  for (int64_t i = 0; i < count; ++i) {
    const char* p = data + i * width;
    if (descr == "<f4") { float v; std::memcpy(&v, p, 4); array.values[i] = v; }
    else if (descr == "<f8") { double v; std::memcpy(&v, p, 8); array.values[i] = v; }
    else if (descr == "<i4") { int32_t v; std::memcpy(&v, p, 4); array.values[i] = double(v); }
    else { int64_t v; std::memcpy(&v, p, 8); array.values[i] = double(v); }
  }
  return array;
}

}  // namespace lrp::test
