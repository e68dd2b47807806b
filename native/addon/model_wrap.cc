// ModelWrap: checks every argument on the JavaScript thread, then hands the engine call to an EngineWorker.
#include "model_wrap.h"

#include "../engine/error.h"
#include "../engine/executor.h"
#include "explain_worker.h"
#include "js_values.h"
#include "plan_from_js.h"

namespace lrp::addon {

namespace {

// A typed-array output of exactly `length` elements of the given type.
template <typename T>
T requireTyped(const Napi::Object& args, const char* key, napi_typedarray_type type, int64_t length, const char* typeName) {
  Napi::Value v = args.Get(key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    throw Error("E_INPUT", std::string("'") + key + "' must be a " + typeName);
  }
  T array = v.As<T>();
  if (int64_t(array.ElementLength()) != length) {
    throw Error("E_SHAPE", std::string("'") + key + "' has " + std::to_string(array.ElementLength()) + " elements, expected " +
                               std::to_string(length));
  }
  return array;
}

// The backend named by the plan's `device` field: 'cpu' (the default), 'cuda', or 'auto' (CUDA when this build has it
// and a GPU is usable, else the CPU). 'cuda' never falls back: it fails with E_DEVICE saying what is missing.
std::unique_ptr<Backend> backendFor(const Napi::Object& spec) {
  Napi::Value value = spec.Get("device");
  std::string device = "cpu";
  if (!value.IsUndefined() && !value.IsNull()) {
    if (!value.IsString()) throw Error("E_ARGUMENT", "device must be 'cpu', 'cuda' or 'auto'");
    device = value.As<Napi::String>().Utf8Value();
  }
  if (device == "cpu") return makeCpuBackend();
  if (device != "cuda" && device != "auto") throw Error("E_ARGUMENT", "device must be 'cpu', 'cuda' or 'auto', got '" + device + "'");
#ifdef LRP_WITH_CUDA
  if (device == "cuda") return makeCudaBackend(0);
  try {
    return makeCudaBackend(0);
  } catch (const Error& error) {
    if (error.code() != "E_DEVICE") throw;
    return makeCpuBackend();
  }
#else
  if (device == "cuda") throw Error("E_DEVICE", "lrp-node was built without CUDA; rebuild with npm run build:cuda");
  return makeCpuBackend();
#endif
}

}  // namespace

Napi::Function ModelWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeModel",
                     {InstanceMethod("explain", &ModelWrap::Explain), InstanceMethod("forward", &ModelWrap::Forward),
                      InstanceMethod("dispose", &ModelWrap::Dispose), InstanceMethod("memoryBytes", &ModelWrap::MemoryBytes),
                      InstanceMethod("backend", &ModelWrap::Backend)});
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() < 1 || !info[0].IsObject()) throw Error("E_INPUT", "NativeModel expects a plan object");
    Plan plan = planFromJs(info[0].As<Napi::Object>());
    model_ = std::make_shared<Model>(std::move(plan), backendFor(info[0].As<Napi::Object>()));
  } catch (const Error& error) {
    throwJs(env, error.code(), error.what());
  } catch (const std::bad_alloc&) {
    throwJs(env, "E_MEMORY_BUDGET", "out of memory while copying the model's weights");
  }
}

std::shared_ptr<Model> ModelWrap::require(Napi::Env env) {
  if (!model_) throwJs(env, "E_DISPOSED", "the model was disposed");
  return model_;
}

Napi::Value ModelWrap::Explain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<Model> model = require(env);
  try {
    if (info.Length() < 1 || !info[0].IsObject()) throw Error("E_INPUT", "explain expects an arguments object");
    Napi::Object args = info[0].As<Napi::Object>();
    const Plan& plan = model->plan();
    auto request = std::make_shared<ExplainRequest>();
    request->batch = getInt(args, "batch", "explain", -1, 1, kMaxElements);
    request->threads = getInt(args, "threads", "explain", 1, 1, 1024);
    const int64_t batch = request->batch;
    const int64_t inSize = shapeSize(plan.inputShape), outSize = shapeSize(plan.layers.back().outputShape);
    const int64_t layers = int64_t(plan.layers.size());
    if (inSize > kMaxElements / batch) throw Error("E_TOO_LARGE", "batch × input size exceeds 2^31 − 1; explain in chunks");
    std::vector<Napi::Value> keep;
    auto input = requireTyped<Napi::Float32Array>(args, "input", napi_float32_array, batch * inSize, "Float32Array");
    auto relevance = requireTyped<Napi::Float32Array>(args, "relevance", napi_float32_array, batch * inSize, "Float32Array");
    auto logits = requireTyped<Napi::Float32Array>(args, "logits", napi_float32_array, batch * outSize, "Float32Array");
    auto targetsOut = requireTyped<Napi::Int32Array>(args, "targetsOut", napi_int32_array, batch, "Int32Array");
    auto sums = requireTyped<Napi::Float64Array>(args, "layerSums", napi_float64_array, batch * layers * 2, "Float64Array");
    keep.insert(keep.end(), {input, relevance, logits, targetsOut, sums});
    request->input = input.Data();
    request->relevance = relevance.Data();
    request->logits = logits.Data();
    request->targetsOut = targetsOut.Data();
    request->layerSums = sums.Data();
    Napi::Array rules = getArray(args, "rules", "explain");
    auto frozen = [&](const Napi::Array& array) {
      Napi::Object object = env.Global().Get("Object").As<Napi::Object>();
      return object.Get("isFrozen").As<Napi::Function>().Call(object, {array}).ToBoolean().Value();
    };
    if (!lastRules_.IsEmpty() && rules.StrictEquals(lastRules_.Value()) && frozen(rules)) {
      // The array converted and checked last time, frozen since (Model freezes its rule objects too).
      request->rules = lastRuleParams_;
    } else {
      if (int64_t(rules.Length()) != layers) throw Error("E_RULE", "expected one rule per layer");
      for (uint32_t i = 0; i < rules.Length(); ++i) {
        Napi::Value r = rules.Get(i);
        if (!r.IsObject()) throw Error("E_RULE", "rule " + std::to_string(i) + " is not an object");
        request->rules.push_back(ruleFromJs(r.As<Napi::Object>(), "rule of layer '" + plan.layers[i].name + "'"));
        checkRuleFits(plan.layers[i], request->rules.back());
      }
      lastRules_ = Napi::Persistent(rules);
      lastRuleParams_ = request->rules;
    }
    const int mode = getInt(args, "targetMode", "explain", 0, 0, 2);
    request->targetMode = TargetMode(mode);
    if (request->targetMode == TargetMode::Indices) {
      auto targets = requireTyped<Napi::Int32Array>(args, "targets", napi_int32_array, batch, "Int32Array");
      request->targets.assign(targets.Data(), targets.Data() + batch);
      for (int32_t t : request->targets) {
        if (t < 0 || t >= outSize) throw Error("E_TARGET", "target " + std::to_string(t) + " is not a class index below " + std::to_string(outSize));
      }
    } else if (request->targetMode == TargetMode::OutputRelevance) {
      auto rel = requireTyped<Napi::Float32Array>(args, "outputRelevance", napi_float32_array, batch * outSize, "Float32Array");
      keep.push_back(rel);
      request->outputRelevance = rel.Data();
    }
    if (!args.Get("inputSums").IsUndefined()) {
      auto inputSums = requireTyped<Napi::Float64Array>(args, "inputSums", napi_float64_array, batch, "Float64Array");
      keep.push_back(inputSums);
      request->inputSums = inputSums.Data();
    }
    Napi::Value layerRelevance = args.Get("layerRelevance");
    if (layerRelevance.IsArray()) {
      Napi::Array arrays = layerRelevance.As<Napi::Array>();
      if (int64_t(arrays.Length()) != layers) throw Error("E_INPUT", "layerRelevance needs one entry per layer");
      for (uint32_t i = 0; i < arrays.Length(); ++i) {
        Napi::Value a = arrays.Get(i);
        if (a.IsNull() || a.IsUndefined()) {
          request->layerRelevance.push_back(nullptr);
          continue;
        }
        Napi::Object holder = Napi::Object::New(env);
        holder.Set("a", a);
        auto array = requireTyped<Napi::Float32Array>(holder, "a", napi_float32_array,
                                                      batch * shapeSize(plan.layers[i].outputShape), "Float32Array");
        keep.push_back(array);
        request->layerRelevance.push_back(array.Data());
      }
    }
    auto* worker = new EngineWorker(env, model, [request](Model& m) { explain(m, *request); }, keep);
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  } catch (const Error& error) {
    throwJs(env, error.code(), error.what());
  }
}

Napi::Value ModelWrap::Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<Model> model = require(env);
  try {
    if (info.Length() < 1 || !info[0].IsObject()) throw Error("E_INPUT", "forward expects an arguments object");
    Napi::Object args = info[0].As<Napi::Object>();
    const Plan& plan = model->plan();
    const int batch = getInt(args, "batch", "forward", -1, 1, kMaxElements);
    const int threads = getInt(args, "threads", "forward", 1, 1, 1024);
    const int64_t inSize = shapeSize(plan.inputShape), outSize = shapeSize(plan.layers.back().outputShape);
    if (inSize > kMaxElements / batch) throw Error("E_TOO_LARGE", "batch × input size exceeds 2^31 − 1; run in chunks");
    auto input = requireTyped<Napi::Float32Array>(args, "input", napi_float32_array, batch * inSize, "Float32Array");
    auto logits = requireTyped<Napi::Float32Array>(args, "logits", napi_float32_array, batch * outSize, "Float32Array");
    const float* in = input.Data();
    float* out = logits.Data();
    auto* worker = new EngineWorker(env, model, [=](Model& m) { forward(m, in, batch, out, threads); }, {input, logits});
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  } catch (const Error& error) {
    throwJs(env, error.code(), error.what());
  }
}

Napi::Value ModelWrap::Dispose(const Napi::CallbackInfo& info) {
  model_.reset();
  return info.Env().Undefined();
}

Napi::Value ModelWrap::MemoryBytes(const Napi::CallbackInfo& info) {
  std::shared_ptr<Model> model = require(info.Env());
  return Napi::Number::New(info.Env(), double(model->memoryBytes()));
}

Napi::Value ModelWrap::Backend(const Napi::CallbackInfo& info) {
  std::shared_ptr<Model> model = require(info.Env());
  return Napi::String::New(info.Env(), model->backend().name());
}

}  // namespace lrp::addon
