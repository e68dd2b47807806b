// The async workers: explain and forward run on a libuv worker thread and settle a Promise.
#pragma once
#include <napi.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../engine/model.h"

namespace lrp::addon {

// Runs `work` off the JavaScript thread; keeps `keepAlive` (the typed arrays it reads and writes) referenced until done.
class EngineWorker : public Napi::AsyncWorker {
 public:
  EngineWorker(Napi::Env env, std::shared_ptr<Model> model, std::function<void(Model&)> work,
               std::vector<Napi::Value> keepAlive);
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& error) override;

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Model> model_;
  std::function<void(Model&)> work_;
  std::vector<Napi::ObjectReference> keepAlive_;
  std::string code_;
};

}  // namespace lrp::addon
