// Converting the JavaScript plan and rule objects (see lib/native.ts) into the engine's Plan and RuleParams.
#pragma once
#include <napi.h>

#include "../engine/plan.h"
#include "../engine/rule.h"

namespace lrp::addon {

Plan planFromJs(const Napi::Object& spec);
RuleParams ruleFromJs(const Napi::Object& rule, const std::string& where);

}  // namespace lrp::addon
