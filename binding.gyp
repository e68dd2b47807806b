{
  "targets": [
    {
      "target_name": "lrp",
      "sources": [
        "native/addon/addon.cc",
        "native/addon/explain_worker.cc",
        "native/addon/model_wrap.cc",
        "native/addon/plan_from_js.cc",
        "native/engine/cpu_backend.cc",
        "native/engine/executor.cc",
        "native/engine/model.cc",
        "native/engine/plan.cc",
        "native/engine/relu_gated.cc",
        "native/engine/rule.cc",
        "native/engine/thread_pool.cc",
        "native/kernels/conv.cc",
        "native/kernels/conv_direct.cc",
        "native/kernels/conv_direct_avx2.cc",
        "native/kernels/conv_gemm.cc",
        "native/kernels/conv_rows.cc",
        "native/kernels/conv_rows_avx2.cc",
        "native/kernels/cpu_features.cc",
        "native/kernels/dispatch.cc",
        "native/kernels/elementwise.cc",
        "native/kernels/float_memory.cc",
        "native/kernels/gemm_avx2.cc",
        "native/kernels/gemm_avx512.cc",
        "native/kernels/gemm_blocked.cc",
        "native/kernels/gemm_neon.cc",
        "native/kernels/gemm_packed_b.cc",
        "native/kernels/gemm_scalar.cc",
        "native/kernels/pool.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags!": [
        "-fno-exceptions"
      ],
      "cflags_cc!": [
        "-fno-exceptions",
        "-std=gnu++14",
        "-std=gnu++17"
      ],
      "cflags_cc": [
        "-std=c++17",
        "-fexceptions",
        "-O3"
      ],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      },
      "msvs_settings": {
        "VCCLCompilerTool": {
          "ExceptionHandling": 1,
          "AdditionalOptions": [
            "/std:c++17"
          ]
        }
      },
      "ldflags": [
        "-static-libstdc++",
        "-static-libgcc"
      ]
    }
  ]
}
