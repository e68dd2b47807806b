// EngineWorker: engine errors become rejected Promises with the error's code; nothing escapes as a C++ exception.
#include "explain_worker.h"

#include <new>

#include "../engine/error.h"

namespace lrp::addon {

EngineWorker::EngineWorker(Napi::Env env, std::shared_ptr<Model> model, std::function<void(Model&)> work,
                           std::vector<Napi::Value> keepAlive)
    : Napi::AsyncWorker(env, "lrp:explain"), deferred_(Napi::Promise::Deferred::New(env)), model_(std::move(model)),
      work_(std::move(work)) {
  for (auto& value : keepAlive) {
    if (value.IsObject()) keepAlive_.push_back(Napi::Persistent(value.As<Napi::Object>()));
  }
}

void EngineWorker::Execute() {
  try {
    work_(*model_);
  } catch (const Error& error) {
    code_ = error.code();
    SetError(error.what());
  } catch (const std::bad_alloc&) {
    code_ = "E_MEMORY_BUDGET";
    SetError("out of memory; explain a smaller batch or set maxMemoryBytes");
  } catch (const std::exception& error) {
    code_ = "E_NATIVE";
    SetError(error.what());
  } catch (...) {
    code_ = "E_NATIVE";
    SetError("unknown native error");
  }
}

void EngineWorker::OnOK() {
  keepAlive_.clear();
  deferred_.Resolve(Env().Undefined());
}

void EngineWorker::OnError(const Napi::Error& error) {
  keepAlive_.clear();
  Napi::Env env = Env();
  const std::string code = code_.empty() ? "E_NATIVE" : code_;
  Napi::Error out = Napi::Error::New(env, "[" + code + "] " + error.Message());
  out.Set("code", Napi::String::New(env, code));
  deferred_.Reject(out.Value());
}

}  // namespace lrp::addon
