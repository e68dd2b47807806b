// Checked reads of JavaScript values at the native boundary: every wrong type becomes an lrp::Error, never a crash.
#pragma once
#include <napi.h>

#include <cmath>
#include <string>
#include <vector>

#include "../engine/error.h"

namespace lrp::addon {

inline double getNumber(const Napi::Object& object, const char* key, const std::string& where, double fallback = NAN,
                        bool required = false) {
  Napi::Value v = object.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (required || std::isnan(fallback)) throw Error("E_INPUT", where + ": '" + key + "' is required");
    return fallback;
  }
  if (!v.IsNumber()) throw Error("E_INPUT", where + ": '" + key + "' must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw Error("E_INPUT", where + ": '" + key + "' must be finite");
  return d;
}

inline int getInt(const Napi::Object& object, const char* key, const std::string& where, int fallback, int min, int max) {
  double d = getNumber(object, key, where, double(fallback));
  if (d != std::floor(d) || d < min || d > max) {
    throw Error("E_INPUT", where + ": '" + key + "' must be an integer in " + std::to_string(min) + "…" + std::to_string(max));
  }
  return int(d);
}

inline bool getBool(const Napi::Object& object, const char* key, bool fallback) {
  Napi::Value v = object.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsBoolean()) throw Error("E_INPUT", std::string("'") + key + "' must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

inline std::string getString(const Napi::Object& object, const char* key, const std::string& where) {
  Napi::Value v = object.Get(key);
  if (!v.IsString()) throw Error("E_INPUT", where + ": '" + key + "' must be a string");
  return v.As<Napi::String>().Utf8Value();
}

inline Napi::Array getArray(const Napi::Object& object, const char* key, const std::string& where) {
  Napi::Value v = object.Get(key);
  if (!v.IsArray()) throw Error("E_INPUT", where + ": '" + key + "' must be an array");
  return v.As<Napi::Array>();
}

inline std::vector<int64_t> toInt64Vector(const Napi::Value& value, const std::string& where, size_t maxLength = 64) {
  if (!value.IsArray()) throw Error("E_INPUT", where + " must be an array of integers");
  Napi::Array array = value.As<Napi::Array>();
  if (array.Length() > maxLength) throw Error("E_TOO_LARGE", where + " has too many entries");
  std::vector<int64_t> out;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value v = array.Get(i);
    if (!v.IsNumber()) throw Error("E_INPUT", where + " must be an array of integers");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d != std::floor(d) || d < -1 || d > 9007199254740991.0) {
      throw Error("E_SHAPE", where + " holds an invalid dimension");
    }
    out.push_back(int64_t(d));
  }
  return out;
}

// A Float32Array property, or an empty view when absent and optional.
inline Napi::Float32Array getFloat32Array(const Napi::Object& object, const char* key, const std::string& where, bool required) {
  Napi::Value v = object.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) throw Error("E_INPUT", where + ": '" + key + "' is required");
    return Napi::Float32Array();
  }
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Error("E_INPUT", where + ": '" + key + "' must be a Float32Array");
  }
  return v.As<Napi::Float32Array>();
}

inline std::vector<float> copyFloat32(const Napi::Float32Array& array) {
  if (array.IsEmpty()) return {};
  return std::vector<float>(array.Data(), array.Data() + array.ElementLength());
}

// Throws the JavaScript error the TypeScript layer turns into an LrpError: "[E_CODE] message", with .code.
[[noreturn]] inline void throwJs(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, "[" + code + "] " + message);
  error.Set("code", Napi::String::New(env, code));
  throw error;
}

}  // namespace lrp::addon
