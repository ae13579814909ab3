// The C++ half of the TensorRT backend: plain C functions over TensorRT's C++ API (see
// shim.h for the conventions). Kept deliberately thin: which shapes to ask for, where
// engines are cached and how buffers are managed are decided on the Rust side, where
// they can be unit-tested without a GPU.

#include "shim.h"

#include <NvInfer.h>
#include <NvInferRuntime.h>

#if __has_include(<NvOnnxParser.h>)
#include <NvOnnxParser.h>
#define GFS_HAVE_ONNX_PARSER 1
#else
// A runtime-only TensorRT install: engines can still be run, just not built here.
#define GFS_HAVE_ONNX_PARSER 0
#endif

#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <type_traits>

// The name-based tensor API (getIOTensorName, setInputShape, setTensorAddress, enqueueV3)
// appeared in TensorRT 8.5 (JetPack 5). JetPack 4.6's TensorRT 8.2 only has the binding
// index API, and its CUDA 10.2 is below what cudarc supports anyway.
#if NV_TENSORRT_MAJOR < 8 || (NV_TENSORRT_MAJOR == 8 && NV_TENSORRT_MINOR < 5)
#error "the TensorRT backend needs TensorRT >= 8.5 (JetPack >= 5.0); these headers are older"
#endif

static_assert(nvinfer1::Dims::MAX_DIMS <= GFS_TRT_MAX_DIMS, "TensorRT allows more dimensions than the shim's arrays");

namespace {

using Severity = nvinfer1::ILogger::Severity;

// TensorRT reports the reason for most failures only through its logger, so the logger
// keeps the recent warnings and errors and the failing call appends them to its message.
// Messages are kept per thread, so two elements failing at once each get their own; the
// process-wide tail catches what TensorRT logs from its own worker threads.
thread_local std::deque<std::string> thread_messages;

class Logger final : public nvinfer1::ILogger {
  public:
    void log(Severity severity, char const *msg) noexcept override {
        if (severity > Severity::kWARNING || msg == nullptr) {
            return;
        }
        try {
            std::string line = severity == Severity::kWARNING ? "warning: " : "error: ";
            line += msg;
            remember(thread_messages, line);
            std::lock_guard<std::mutex> lock(mutex_);
            remember(global_, line);
        } catch (...) {
            // Out of memory while logging: losing the message is the only option.
        }
    }

    std::string take() {
        std::deque<std::string> lines;
        lines.swap(thread_messages);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (lines.empty()) {
                lines.swap(global_);
            }
            global_.clear();
        }
        std::string out;
        for (auto const &l : lines) {
            if (!out.empty()) {
                out += "; ";
            }
            out += l;
        }
        return out;
    }

    void clear() {
        thread_messages.clear();
        std::lock_guard<std::mutex> lock(mutex_);
        global_.clear();
    }

  private:
    static void remember(std::deque<std::string> &lines, std::string const &line) {
        lines.push_back(line);
        while (lines.size() > 6) {
            lines.pop_front();
        }
    }

    std::mutex mutex_;
    std::deque<std::string> global_;
};

// TensorRT keeps the first logger it is given for the whole library, so there is one
// for the process, never destroyed (runtimes may outlive any static destructor order).
Logger &logger() {
    static Logger *instance = new Logger();
    return *instance;
}

void fail(char *err, size_t err_len, std::string msg) {
    std::string logged;
    try {
        logged = logger().take();
    } catch (...) {
    }
    if (!logged.empty()) {
        msg += " (TensorRT said: " + logged + ")";
    }
    if (err == nullptr || err_len == 0) {
        return;
    }
    size_t n = msg.size() < err_len - 1 ? msg.size() : err_len - 1;
    std::memcpy(err, msg.data(), n);
    err[n] = '\0';
}

// Every entry point catches everything: an exception must not cross into Rust.
template <typename F> int32_t guarded(char *err, size_t err_len, F body) {
    try {
        logger().clear();
        return body();
    } catch (std::exception const &e) {
        fail(err, err_len, std::string("unexpected C++ exception: ") + e.what());
    } catch (...) {
        fail(err, err_len, "unexpected C++ exception");
    }
    return -1;
}

bool to_dims(int64_t const *in, int32_t nb, nvinfer1::Dims &out) {
    if (nb < 0 || nb > nvinfer1::Dims::MAX_DIMS) {
        return false;
    }
    // 32-bit before TensorRT 10, 64-bit since: let the compiler pick.
    using D = std::remove_reference<decltype(out.d[0])>::type;
    out = nvinfer1::Dims{};
    out.nbDims = nb;
    for (int32_t i = 0; i < nb; ++i) {
        out.d[i] = static_cast<D>(in[i]);
    }
    return true;
}

// False when TensorRT returned its "invalid" Dims (nbDims -1, e.g. an unknown name).
bool from_dims(nvinfer1::Dims const &in, int64_t *out, int32_t *nb) {
    if (in.nbDims < 0 || in.nbDims > GFS_TRT_MAX_DIMS) {
        return false;
    }
    *nb = in.nbDims;
    for (int32_t i = 0; i < in.nbDims; ++i) {
        out[i] = static_cast<int64_t>(in.d[i]);
    }
    return true;
}

std::string quoted(char const *name) { return std::string("'") + (name ? name : "(null)") + "'"; }

} // namespace

struct GfsTrtRuntime {
    nvinfer1::IRuntime *runtime;
};

struct GfsTrtEngine {
    nvinfer1::ICudaEngine *engine;
    nvinfer1::IExecutionContext *context;
};

struct GfsTrtNetwork {
    nvinfer1::IBuilder *builder;
    nvinfer1::INetworkDefinition *network;
#if GFS_HAVE_ONNX_PARSER
    // The parser owns the weights the network points at, so it lives as long as the network.
    nvonnxparser::IParser *parser;
#endif
};

extern "C" {

void gfs_trt_header_version(int32_t *major, int32_t *minor, int32_t *patch) {
    *major = NV_TENSORRT_MAJOR;
    *minor = NV_TENSORRT_MINOR;
    *patch = NV_TENSORRT_PATCH;
}

int32_t gfs_trt_has_onnx_parser(void) { return GFS_HAVE_ONNX_PARSER; }

int32_t gfs_trt_has_fp16_flag(void) {
    // TensorRT 11 networks are always strongly typed: precision comes from the ONNX
    // file's own types, and BuilderFlag::kFP16 is gone.
    return NV_TENSORRT_MAJOR < 11 ? 1 : 0;
}

int32_t gfs_trt_has_int8_flag(void) { return NV_TENSORRT_MAJOR < 11 ? 1 : 0; }

GfsTrtRuntime *gfs_trt_runtime_new(gfs_trt_create_fn create_runtime, int32_t dla_core, char *err, size_t err_len) {
    GfsTrtRuntime *out = nullptr;
    guarded(err, err_len, [&]() -> int32_t {
        if (create_runtime == nullptr) {
            fail(err, err_len, "no createInferRuntime function");
            return -1;
        }
        auto *runtime = static_cast<nvinfer1::IRuntime *>(create_runtime(&logger(), NV_TENSORRT_VERSION));
        if (runtime == nullptr) {
            fail(err, err_len, "createInferRuntime failed");
            return -1;
        }
        if (dla_core >= 0) {
            int32_t cores = runtime->getNbDLACores();
            if (dla_core >= cores) {
                delete runtime;
                fail(err, err_len,
                     "DLA core " + std::to_string(dla_core) + " asked for, but this device has " +
                         std::to_string(cores) + " DLA core(s)");
                return -1;
            }
            runtime->setDLACore(dla_core);
        }
        out = new GfsTrtRuntime{runtime};
        return 0;
    });
    return out;
}

void gfs_trt_runtime_free(GfsTrtRuntime *runtime) {
    if (runtime != nullptr) {
        delete runtime->runtime;
        delete runtime;
    }
}

GfsTrtEngine *gfs_trt_engine_new(GfsTrtRuntime *runtime, void const *blob, size_t len, char *err, size_t err_len) {
    GfsTrtEngine *out = nullptr;
    guarded(err, err_len, [&]() -> int32_t {
        nvinfer1::ICudaEngine *engine = runtime->runtime->deserializeCudaEngine(blob, len);
        if (engine == nullptr) {
            fail(err, err_len, "deserializeCudaEngine failed");
            return -1;
        }
        nvinfer1::IExecutionContext *context = engine->createExecutionContext();
        if (context == nullptr) {
            delete engine;
            fail(err, err_len, "createExecutionContext failed (out of GPU memory?)");
            return -1;
        }
        out = new GfsTrtEngine{engine, context};
        return 0;
    });
    return out;
}

void gfs_trt_engine_free(GfsTrtEngine *engine) {
    if (engine != nullptr) {
        // The context belongs to the engine: it goes first.
        delete engine->context;
        delete engine->engine;
        delete engine;
    }
}

int32_t gfs_trt_engine_nb_io(GfsTrtEngine const *engine) { return engine->engine->getNbIOTensors(); }

char const *gfs_trt_engine_io_name(GfsTrtEngine const *engine, int32_t index) {
    if (index < 0 || index >= engine->engine->getNbIOTensors()) {
        return nullptr;
    }
    return engine->engine->getIOTensorName(index);
}

int32_t gfs_trt_engine_io_info(GfsTrtEngine const *engine, char const *name, int32_t *is_input, int32_t *dtype,
                               int64_t *dims, int32_t *nb_dims, char *err, size_t err_len) {
    return guarded(err, err_len, [&]() -> int32_t {
        nvinfer1::TensorIOMode mode = engine->engine->getTensorIOMode(name);
        if (mode == nvinfer1::TensorIOMode::kNONE) {
            fail(err, err_len, "the engine has no tensor " + quoted(name));
            return -1;
        }
        *is_input = mode == nvinfer1::TensorIOMode::kINPUT ? 1 : 0;
        *dtype = static_cast<int32_t>(engine->engine->getTensorDataType(name));
        if (!from_dims(engine->engine->getTensorShape(name), dims, nb_dims)) {
            fail(err, err_len, "no shape for tensor " + quoted(name));
            return -1;
        }
        return 0;
    });
}

int32_t gfs_trt_engine_profile(GfsTrtEngine const *engine, char const *name, int32_t which, int64_t *dims,
                               int32_t *nb_dims, char *err, size_t err_len) {
    return guarded(err, err_len, [&]() -> int32_t {
        *nb_dims = 0;
        if (engine->engine->getNbOptimizationProfiles() < 1) {
            return 0;
        }
        nvinfer1::OptProfileSelector select = which == 0   ? nvinfer1::OptProfileSelector::kMIN
                                              : which == 1 ? nvinfer1::OptProfileSelector::kOPT
                                                           : nvinfer1::OptProfileSelector::kMAX;
        if (!from_dims(engine->engine->getProfileShape(name, 0, select), dims, nb_dims)) {
            // An input whose shape is fixed has no profile entry.
            *nb_dims = 0;
        }
        // Clears what TensorRT may have logged about an input without a profile entry.
        logger().clear();
        return 0;
    });
}

int32_t gfs_trt_context_set_input_shape(GfsTrtEngine *engine, char const *name, int64_t const *dims, int32_t nb_dims,
                                        char *err, size_t err_len) {
    return guarded(err, err_len, [&]() -> int32_t {
        nvinfer1::Dims d;
        if (!to_dims(dims, nb_dims, d)) {
            fail(err, err_len, "too many dimensions for input " + quoted(name));
            return -1;
        }
        if (!engine->context->setInputShape(name, d)) {
            fail(err, err_len, "setInputShape failed for input " + quoted(name));
            return -1;
        }
        return 0;
    });
}

int32_t gfs_trt_context_tensor_shape(GfsTrtEngine const *engine, char const *name, int64_t *dims, int32_t *nb_dims,
                                     char *err, size_t err_len) {
    return guarded(err, err_len, [&]() -> int32_t {
        if (!from_dims(engine->context->getTensorShape(name), dims, nb_dims)) {
            fail(err, err_len, "no shape for tensor " + quoted(name) + " (are all input shapes set?)");
            return -1;
        }
        return 0;
    });
}

int32_t gfs_trt_context_set_address(GfsTrtEngine *engine, char const *name, void *device_ptr, char *err,
                                    size_t err_len) {
    return guarded(err, err_len, [&]() -> int32_t {
        if (!engine->context->setTensorAddress(name, device_ptr)) {
            fail(err, err_len, "setTensorAddress failed for tensor " + quoted(name));
            return -1;
        }
        return 0;
    });
}

int32_t gfs_trt_context_enqueue(GfsTrtEngine *engine, void *stream, char *err, size_t err_len) {
    return guarded(err, err_len, [&]() -> int32_t {
        if (!engine->context->enqueueV3(static_cast<cudaStream_t>(stream))) {
            fail(err, err_len, "enqueueV3 failed");
            return -1;
        }
        return 0;
    });
}

GfsTrtNetwork *gfs_trt_network_from_onnx(gfs_trt_create_fn create_builder, gfs_trt_create_parser_fn create_parser,
                                         char const *onnx_path, char *err, size_t err_len) {
    GfsTrtNetwork *out = nullptr;
    guarded(err, err_len, [&]() -> int32_t {
#if GFS_HAVE_ONNX_PARSER
        if (create_builder == nullptr || create_parser == nullptr) {
            fail(err, err_len, "no createInferBuilder / createNvOnnxParser function");
            return -1;
        }
        auto *builder = static_cast<nvinfer1::IBuilder *>(create_builder(&logger(), NV_TENSORRT_VERSION));
        if (builder == nullptr) {
            fail(err, err_len, "createInferBuilder failed");
            return -1;
        }
#if NV_TENSORRT_MAJOR < 10
        // ONNX networks need explicit batch; TensorRT 10 made it the only mode.
        auto flags = 1U << static_cast<uint32_t>(nvinfer1::NetworkDefinitionCreationFlag::kEXPLICIT_BATCH);
#else
        nvinfer1::NetworkDefinitionCreationFlags flags = 0;
#endif
        nvinfer1::INetworkDefinition *network = builder->createNetworkV2(flags);
        if (network == nullptr) {
            delete builder;
            fail(err, err_len, "createNetworkV2 failed");
            return -1;
        }
        auto *parser =
            static_cast<nvonnxparser::IParser *>(create_parser(network, &logger(), NV_ONNX_PARSER_VERSION));
        if (parser == nullptr) {
            delete network;
            delete builder;
            fail(err, err_len, "createNvOnnxParser failed");
            return -1;
        }
        if (!parser->parseFromFile(onnx_path, static_cast<int>(Severity::kWARNING))) {
            std::string msg = std::string("the ONNX parser rejected ") + onnx_path;
            for (int i = 0; i < parser->getNbErrors(); ++i) {
                msg += i == 0 ? ": " : "; ";
                msg += parser->getError(i)->desc();
            }
            delete parser;
            delete network;
            delete builder;
            fail(err, err_len, msg);
            return -1;
        }
        out = new GfsTrtNetwork{builder, network, parser};
        return 0;
#else
        (void)create_builder;
        (void)create_parser;
        (void)onnx_path;
        fail(err, err_len,
             "this build's TensorRT headers had no NvOnnxParser.h, so it cannot build engines; build the engine "
             "with trtexec (models/build-engines.sh) and pass it with the engine property");
        return -1;
#endif
    });
    return out;
}

void gfs_trt_network_free(GfsTrtNetwork *network) {
    if (network != nullptr) {
#if GFS_HAVE_ONNX_PARSER
        delete network->parser;
#endif
        delete network->network;
        delete network->builder;
        delete network;
    }
}

int32_t gfs_trt_network_nb_inputs(GfsTrtNetwork const *network) { return network->network->getNbInputs(); }

int32_t gfs_trt_network_input(GfsTrtNetwork const *network, int32_t index, char const **name, int64_t *dims,
                              int32_t *nb_dims, char *err, size_t err_len) {
    return guarded(err, err_len, [&]() -> int32_t {
        if (index < 0 || index >= network->network->getNbInputs()) {
            fail(err, err_len, "network input index " + std::to_string(index) + " out of range");
            return -1;
        }
        nvinfer1::ITensor *tensor = network->network->getInput(index);
        *name = tensor->getName();
        if (!from_dims(tensor->getDimensions(), dims, nb_dims)) {
            fail(err, err_len, "network input " + quoted(*name) + " has no shape");
            return -1;
        }
        return 0;
    });
}

int32_t gfs_trt_network_build(GfsTrtNetwork *network, GfsTrtBuildOptions const *options,
                              GfsTrtProfileEntry const *profile, int32_t nb_profile, void **blob, void const **data,
                              size_t *len, int32_t *fp16_used, int32_t *ranges_set, char *err, size_t err_len) {
    return guarded(err, err_len, [&]() -> int32_t {
        nvinfer1::IBuilder *builder = network->builder;
        nvinfer1::IBuilderConfig *config = builder->createBuilderConfig();
        if (config == nullptr) {
            fail(err, err_len, "createBuilderConfig failed");
            return -1;
        }
        // Owns the config from here on, whichever way we leave.
        struct ConfigGuard {
            nvinfer1::IBuilderConfig *c;
            ~ConfigGuard() { delete c; }
        } config_guard{config};

        if (options->workspace > 0) {
            config->setMemoryPoolLimit(nvinfer1::MemoryPoolType::kWORKSPACE, options->workspace);
        }

        *fp16_used = 0;
#if NV_TENSORRT_MAJOR < 10
        if (options->fp16 && builder->platformHasFastFp16()) {
            config->setFlag(nvinfer1::BuilderFlag::kFP16);
            *fp16_used = 1;
        }
#elif NV_TENSORRT_MAJOR < 11
        // platformHasFastFp16 is deprecated in 10 (always true on the GPUs it supports),
        // and later 10.x releases deprecate kFP16 in favour of strongly typed networks.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        if (options->fp16) {
            config->setFlag(nvinfer1::BuilderFlag::kFP16);
            *fp16_used = 1;
        }
#pragma GCC diagnostic pop
#endif

        *ranges_set = 0;
        if (options->int8) {
#if NV_TENSORRT_MAJOR < 11
            // Implicit quantisation from a calibration cache's ranges: no calibrator runs,
            // so the build needs no images, and the ranges work on the DLA as on the GPU.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
            config->setFlag(nvinfer1::BuilderFlag::kINT8);
            std::map<std::string, float> amax;
            for (int32_t i = 0; i < options->nb_ranges; ++i) {
                amax[options->range_names[i]] = options->range_amax[i];
            }
            nvinfer1::INetworkDefinition *net = network->network;
            auto apply = [&](nvinfer1::ITensor *t) {
                if (t == nullptr) {
                    return;
                }
                auto it = amax.find(t->getName());
                if (it != amax.end() && t->setDynamicRange(-it->second, it->second)) {
                    ++*ranges_set;
                    amax.erase(it);
                }
            };
            for (int32_t i = 0; i < net->getNbInputs(); ++i) {
                apply(net->getInput(i));
            }
            for (int32_t l = 0; l < net->getNbLayers(); ++l) {
                nvinfer1::ILayer *layer = net->getLayer(l);
                for (int32_t o = 0; o < layer->getNbOutputs(); ++o) {
                    apply(layer->getOutput(o));
                }
            }
#pragma GCC diagnostic pop
#else
            fail(err, err_len, "int8 with dynamic ranges needs TensorRT < 11; build from the QDQ int8 model instead");
            return -1;
#endif
        }

        if (options->dla_core >= 0) {
            int32_t cores = builder->getNbDLACores();
            if (options->dla_core >= cores) {
                fail(err, err_len,
                     "DLA core " + std::to_string(options->dla_core) + " asked for, but this device has " +
                         std::to_string(cores) + " DLA core(s)");
                return -1;
            }
            config->setDefaultDeviceType(nvinfer1::DeviceType::kDLA);
            config->setDLACore(options->dla_core);
            // Layers the DLA cannot run (and all of them when it has no fp16/int8 to use)
            // go to the GPU instead of failing the build.
            config->setFlag(nvinfer1::BuilderFlag::kGPU_FALLBACK);
        }

        if (nb_profile > 0) {
            nvinfer1::IOptimizationProfile *p = builder->createOptimizationProfile();
            if (p == nullptr) {
                fail(err, err_len, "createOptimizationProfile failed");
                return -1;
            }
            for (int32_t i = 0; i < nb_profile; ++i) {
                GfsTrtProfileEntry const &e = profile[i];
                nvinfer1::Dims min, opt, max;
                if (!to_dims(e.min, e.nb_dims, min) || !to_dims(e.opt, e.nb_dims, opt) ||
                    !to_dims(e.max, e.nb_dims, max)) {
                    fail(err, err_len, "bad profile rank for input " + quoted(e.name));
                    return -1;
                }
                if (!p->setDimensions(e.name, nvinfer1::OptProfileSelector::kMIN, min) ||
                    !p->setDimensions(e.name, nvinfer1::OptProfileSelector::kOPT, opt) ||
                    !p->setDimensions(e.name, nvinfer1::OptProfileSelector::kMAX, max)) {
                    fail(err, err_len, "optimisation profile rejected for input " + quoted(e.name));
                    return -1;
                }
            }
            if (config->addOptimizationProfile(p) < 0) {
                fail(err, err_len, "addOptimizationProfile failed");
                return -1;
            }
        }

        nvinfer1::IHostMemory *memory = builder->buildSerializedNetwork(*network->network, *config);
        if (memory == nullptr || memory->size() == 0) {
            delete memory;
            fail(err, err_len, "building the engine failed");
            return -1;
        }
        *blob = memory;
        *data = memory->data();
        *len = memory->size();
        return 0;
    });
}

void gfs_trt_blob_free(void *blob) { delete static_cast<nvinfer1::IHostMemory *>(blob); }

} // extern "C"
