// NativeModel: the JavaScript class around lrp::Model (one C++ class per JavaScript class).
#pragma once
#include <napi.h>

#include <memory>
#include <vector>

#include "../engine/model.h"
#include "../engine/rule.h"

namespace lrp::addon {

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ModelWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Explain(const Napi::CallbackInfo& info);
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value MemoryBytes(const Napi::CallbackInfo& info);
  Napi::Value Backend(const Napi::CallbackInfo& info);
  std::shared_ptr<Model> require(Napi::Env env);

  // Shared with in-flight calls: dispose() drops this reference, a running call keeps the model alive until it ends.
  std::shared_ptr<Model> model_;
  // The rules array of the last explain call and its checked conversion: JavaScript passes the same (frozen) array
  // again for the same composite, and reading ~12 properties per layer costs ~20 µs a call at batch 1.
  Napi::Reference<Napi::Array> lastRules_;
  std::vector<RuleParams> lastRuleParams_;
};

}  // namespace lrp::addon
