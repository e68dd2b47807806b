// Module initialisation: exports NativeModel, the Node-API version and the backend description. No static handles.
#include <napi.h>

#include "../engine/thread_pool.h"
#include "../kernels/gemm.h"
#include "model_wrap.h"

namespace lrp::addon {

Napi::Value BackendInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("backend", "cpu");
  out.Set("isa", lrp::kernels::sgemmKernelName());
  out.Set("threads", hardwareThreads());
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeModel", ModelWrap::Define(env));
  exports.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  exports.Set("backendInfo", Napi::Function::New(env, BackendInfo, "backendInfo"));
  return exports;
}

}  // namespace lrp::addon

static Napi::Object InitLrp(Napi::Env env, Napi::Object exports) { return lrp::addon::Init(env, exports); }

NODE_API_MODULE(lrp, InitLrp)
