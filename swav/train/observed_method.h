// A Method that forwards everything to another and shows each step's batch and output to an
// observer: the regression check records losses with it, tests record the batches a run saw.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "swav/train/method.h"

namespace swav {

class ObservedMethod : public Method {
 public:
  /// Called after each step of the wrapped method (before backward). It may throw to end the run.
  using Observer =
      std::function<void(const Batch& batch, const StepContext& ctx, const StepOutput& out)>;

  ObservedMethod(Method& inner, Observer observer)
      : inner_(inner), observer_(std::move(observer)) {}

  std::string name() const override { return inner_.name(); }
  torch::nn::Module& module() override { return inner_.module(); }
  std::shared_ptr<BackboneImpl> encoder() override { return inner_.encoder(); }
  std::vector<torch::Tensor> parameters() override { return inner_.parameters(); }
  std::vector<ParamGroup> parameter_groups() override { return inner_.parameter_groups(); }
  void on_train_start(const ImageSet& train, StepContext& ctx) override {
    inner_.on_train_start(train, ctx);
  }
  void on_epoch_start(StepContext& ctx) override { inner_.on_epoch_start(ctx); }
  std::vector<int64_t> epoch_samples(const StepContext& ctx) override {
    return inner_.epoch_samples(ctx);
  }
  StepOutput step(const Batch& batch, StepContext& ctx) override {
    StepOutput out = inner_.step(batch, ctx);
    observer_(batch, ctx, out);
    return out;
  }
  void after_backward(StepContext& ctx) override { inner_.after_backward(ctx); }
  void after_step(StepContext& ctx) override { inner_.after_step(ctx); }
  Scalars on_epoch_end(StepContext& ctx) override { return inner_.on_epoch_end(ctx); }
  CollapseReference collapse_reference() const override { return inner_.collapse_reference(); }
  torch::Tensor assign(const torch::Tensor& images) override { return inner_.assign(images); }
  int64_t num_clusters() const override { return inner_.num_clusters(); }
  void save_state(torch::serialize::OutputArchive& archive) const override {
    inner_.save_state(archive);
  }
  void load_state(torch::serialize::InputArchive& archive) override { inner_.load_state(archive); }

 private:
  Method& inner_;
  Observer observer_;
};

}  // namespace swav
