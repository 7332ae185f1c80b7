// Typed options for every component; defaults are the SwAV paper's ImageNet settings. Each key's
// meaning, unit and rules are in swav/config/fields.h (`run_experiment --keys` prints them), which
// also turns TOML into these structs; components never look up string keys.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace swav {

/// One group of crops of the same resolution (SwAV multi-crop).
struct CropGroup {
  int64_t size = 224;       // output side length in pixels
  int64_t count = 2;        // number of crops of this size per image
  double min_scale = 0.14;  // RandomResizedCrop area range, as a share of the image area
  double max_scale = 1.0;
};

/// Multi-crop augmentation: every crop is RandomResizedCrop -> flip -> colour jitter -> grayscale
/// -> Gaussian blur -> normalise, each with its probability.
struct AugmentOptions {
  std::vector<CropGroup> crops = {{224, 2, 0.14, 1.0}, {96, 6, 0.05, 0.14}};
  double min_ratio = 3.0 / 4.0;  // RandomResizedCrop aspect-ratio range
  double max_ratio = 4.0 / 3.0;
  double flip_prob = 0.5;    // horizontal flip
  double jitter_prob = 0.8;  // colour jitter applied with this probability
  double brightness = 0.8;   // jitter strengths (torchvision ColorJitter semantics)
  double contrast = 0.8;
  double saturation = 0.8;
  double hue = 0.2;
  double grayscale_prob = 0.2;
  double blur_prob = 0.5;  // Gaussian blur with sigma ~ U(blur_sigma_min, blur_sigma_max)
  double blur_sigma_min = 0.1;
  double blur_sigma_max = 2.0;
  std::vector<double> mean = {0.485, 0.456, 0.406};  // per channel; one value for 1-channel data
  std::vector<double> std = {0.228, 0.224, 0.225};
  std::string device = "cpu";  // where views are made: "cpu" (worker threads) or "cuda" (on the
                               // training GPU from the uint8 images kept there)
  int64_t workers = 2;         // CPU threads producing views ahead of the training step
  int64_t prefetch = 2;        // batches prepared ahead
};

/// Where the images come from.
struct DataOptions {
  // "fashion_mnist" (IDX+gzip), "cifar_binary", "image_folder", "synthetic"
  std::string format = "image_folder";
  std::string root;                   // dataset folder (unused for "synthetic")
  std::string train_split = "train";  // image_folder: sub-folder names of the two splits
  std::string test_split = "val";
  int64_t image_size = 0;   // image_folder: resize every image to this square size (0 = keep;
                            // then all images must share one size)
  int64_t train_limit = 0;  // use only the first N (class-balanced) training images; 0 = all
  int64_t test_limit = 0;   // likewise for the test split
  std::string cache_dir;    // decoded uint8 cache; empty = ~/.cache/swav-bench/data
  // image_folder: "cache" decodes every image once into a uint8 cache of image_size squares;
  // "stream" decodes each sample's file for its views (crops on the original size, bounded memory)
  std::string decode = "cache";
  bool skip_corrupt = false;  // stream: a corrupt file is skipped with a warning, not fatal
  // synthetic only: a known-class toy set for fast tests
  int64_t synthetic_classes = 10;
  int64_t synthetic_train_per_class = 100;
  int64_t synthetic_test_per_class = 20;
  int64_t synthetic_size = 32;
  int64_t synthetic_channels = 3;
};

/// Backbone, projection head and prototypes.
struct ModelOptions {
  std::string arch = "resnet50";  // "resnet18", "resnet50", "convnet" (small, for fast tests)
  std::string stem = "imagenet";  // "imagenet" (7x7/2 conv + max-pool) or "cifar" (3x3/1, no pool)
  double width = 1.0;             // channel width multiplier
  int64_t hidden_dim = 2048;      // projection head hidden size (0 = linear head)
  int64_t output_dim = 128;       // embedding size z
  std::vector<int64_t> prototypes = {3000};  // one entry per prototype head
  std::string init;         // PyTorch checkpoint whose weights start the backbone ("" = random)
  bool init_strict = true;  // a missing or mis-shaped backbone tensor in `init` is an error
};

/// SwAV's own knobs.
struct SwavOptions {
  double epsilon = 0.05;  // Sinkhorn entropic regularisation
  int64_t sinkhorn_iterations = 3;
  double temperature = 0.1;                        // softmax temperature of the swapped prediction
  std::vector<int64_t> crops_for_assign = {0, 1};  // crops whose codes are predicted
  int64_t queue_length = 0;                        // per worker and assigned crop; 0 = no queue
  int64_t epoch_queue_starts = 15;                 // epoch at which the queue is created
  int64_t freeze_prototypes_niters = 313;          // iterations with no prototype update
};

/// SimCLR (baselines/simclr.h). Network: backbone -> model's projection head -> L2 normalise.
struct SimclrOptions {
  double temperature = 0.1;  // NT-Xent temperature (0.1 ImageNet at large batch, 0.5 on CIFAR)
};

/// DeepCluster-v2 (baselines/deepcluster_v2.h). Prototype heads: model.prototypes (the reference
/// uses three heads of 3000).
struct DeepClusterOptions {
  std::vector<int64_t> crops_for_assign = {0, 1};  // crops whose embeddings fill the memory bank
  double temperature = 0.1;                        // softmax temperature of the cross-entropy
  int64_t kmeans_iterations = 10;                  // Lloyd iterations per head and epoch
};

/// DeepCluster (v1) (baselines/deepcluster.h): one classifier of model.prototypes[0] clusters on
/// the backbone, re-created every epoch (the reference: k = 10000 on ImageNet).
struct DeepClusterV1Options {
  int64_t pca_dim = 256;  // PCA-whitening dimension of the features before k-means
  // Lloyd iterations per epoch (Euclidean, as faiss in the reference)
  int64_t kmeans_iterations = 20;
};

/// SeLa v1 (baselines/sela.h): self-labelling of the whole training set. One linear classifier
/// head per entry of model.prototypes (the reference: 10 heads of 3000 on ImageNet).
struct SelaOptions {
  double lambda = 25.0;                // power on the softmax P before Sinkhorn (10 on CIFAR)
  int64_t label_steps = 100;           // label optimisations over the whole run
  std::string schedule = "quadratic";  // when they happen: "quadratic" (ImageNet) or "linear"
  double sinkhorn_tolerance = 0.1;     // stop when sum |c / c_new - 1| < this (every 10 iters)
};

/// SeLa-v2 (baselines/sela_v2.h): DeepCluster-v2 with Sinkhorn assignment over the memory bank and
/// prototypes learned by SGD. Prototype heads: model.prototypes.
struct SelaV2Options {
  std::vector<int64_t> crops_for_assign = {0, 1};  // crops whose embeddings fill the memory bank
  double temperature = 0.1;                        // softmax temperature of the cross-entropy
  double epsilon = 0.05;                           // Sinkhorn regularisation of the bank assignment
  int64_t sinkhorn_iterations = 3;                 // Sinkhorn iterations over the bank
};

/// PCL (baselines/pcl.h): MoCo with ProtoNCE. The embedding size is model.output_dim.
struct PclOptions {
  double temperature = 0.2;      // InfoNCE temperature; also the mean concentration
  double momentum = 0.999;       // key encoder EMA
  int64_t queue_length = 16384;  // negative keys (rounded down to whole batches)
  int64_t warmup_epochs = 20;    // InfoNCE-only epochs before clustering starts
  std::vector<int64_t> clusters = {25000, 50000, 100000};  // k-means granularities
  int64_t negative_prototypes = 16384;  // r: sampled negative centroids per granularity
  int64_t kmeans_iterations = 20;
  int64_t kmeans_restarts = 5;  // best objective of this many seeded runs
};

/// SGD + LARC and the per-iteration learning-rate schedule.
struct OptimOptions {
  double base_lr = 4.8;       // peak lr after warmup
  double final_lr = 0.0048;   // lr at the end of the cosine
  double start_warmup = 0.3;  // lr at iteration 0 of the warmup
  int64_t warmup_epochs = 10;
  double momentum = 0.9;
  double weight_decay = 1e-6;
  bool larc = true;           // wrap SGD in LARC
  double larc_trust = 0.001;  // LARC trust coefficient
  bool larc_clip = false;     // LARC clipping mode (the reference runs without)
  double larc_eps = 1e-8;
  bool exclude_bias_bn = false;  // 1-D parameters (BN, biases) get neither LARC adaptation nor
                                 // weight decay (SimCLR's LARS); false = every tensor, as SwAV
};

/// The training loop.
struct TrainOptions {
  int64_t epochs = 100;
  int64_t batch_size = 64;     // per process
  std::string device = "cpu";  // "cpu", "cuda", "cuda:N"
  int64_t seed = 31;
  int64_t threads = 0;             // intra-op CPU threads; 0 = all cores
  int64_t checkpoint_every = 1;    // epochs between checkpoints (and always at the end)
  int64_t log_every = 20;          // steps between progress lines / metric reads
  std::string precision = "fp32";  // "fp32", or "bf16": CUDA autocast to bfloat16 in the forward
                                   // pass (Sinkhorn and the loss stay float32)
  bool channels_last = false;      // NHWC memory format for convolutions (faster on tensor cores)
  bool sync_bn = true;  // several processes: batch-norm statistics over the global batch (the
                        // paper's runs); false: each process normalises its own batch
  // The collapse watch (swav/train/collapse.h; SwAV): an epoch loss within this share of the
  // chance level ln K, once the prototypes have trained a whole epoch, is flagged as not learning;
  // 0 turns that check off (low prototype usage is still flagged).
  double collapse_loss_margin = 0.02;
  bool stop_on_collapse = false;  // end the trial as failed at the first flagged epoch
};

/// A second dataset the frozen encoder is evaluated on (transfer): its own data section and
/// normalisation; its images are resized to the pretraining input size (augment.crops[0].size).
struct TransferOptions {
  std::string name;  // names the protocol rows: "transfer:<name>:knn"
  DataOptions data;  // where the images come from (same keys as [data])
  std::vector<double> mean = {0.485, 0.456, 0.406};  // normalisation of this dataset
  std::vector<double> std = {0.228, 0.224, 0.225};
};

/// Evaluation of the frozen encoder on the test split.
struct EvalOptions {
  std::vector<int64_t> knn_k = {20, 200};  // weighted kNN neighbour counts
  double knn_temperature = 0.1;
  bool linear = true;  // linear probe on precomputed features
  int64_t linear_epochs = 100;
  double linear_lr = 0.3;  // SGD lr, cosine to 0
  double linear_momentum = 0.9;
  double linear_weight_decay = 1e-6;
  int64_t linear_batch_size = 256;
  bool untrained_baseline = true;  // also evaluate the network at initialisation (kNN)
  int64_t batch_size = 256;        // feature extraction batch
  // The SwAV linear protocol: a linear layer on the frozen backbone (eval mode, no grad), trained
  // on augmented crops (random resized crop + flip), tested on a centre crop; optimiser from the
  // linear_* keys above.
  bool swav_linear = false;
  int64_t swav_linear_epochs = 100;
  double swav_linear_min_scale = 0.08;  // random resized crop area range [min_scale, 1]
  double center_crop = 0.875;           // test crop side as a share of the image (224 of 256)
  // Semi-supervised fine-tuning of backbone + new linear head on class-balanced label subsets.
  bool semi_supervised = false;
  std::vector<double> semi_fractions = {0.01, 0.1};  // share of the training labels kept
  int64_t semi_epochs = 20;
  double semi_lr = 0.01;      // backbone lr, cosine to 0
  double semi_head_lr = 0.2;  // head lr, cosine to 0
  double semi_momentum = 0.9;
  double semi_weight_decay = 0.0;
  int64_t semi_batch_size = 256;
  int64_t semi_seed = 0;  // subset and shuffling seed; 0 = train.seed
  // Cluster quality of argmax prototype assignments (methods with prototypes): NMI, ARI, usage.
  bool clusters = true;
  std::vector<TransferOptions> transfer;  // [[eval.transfer]] tables: kNN and linear probe on each
};

/// One experiment (one trial after sweep expansion).
struct ExperimentOptions {
  std::string name = "experiment";  // experiment name (runs/<name>/...)
  std::string method = "swav";
  std::string db;       // SQLite store; empty = swav_bench.db in the working directory
  std::string run_dir;  // checkpoints and logs; empty = runs/<name>
  DataOptions data;
  AugmentOptions augment;
  ModelOptions model;
  SwavOptions swav;
  SimclrOptions simclr;
  DeepClusterOptions deepcluster;
  DeepClusterV1Options deepcluster_v1;
  SelaOptions sela;
  SelaV2Options sela_v2;
  PclOptions pcl;
  OptimOptions optim;
  TrainOptions train;
  EvalOptions eval;
};

}  // namespace swav
