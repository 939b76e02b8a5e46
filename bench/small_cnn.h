// The small CNN of the MNIST job (experiments/mnist), defined again here
// because the job keeps its definition private to its .cc: two 5x5
// convolutions with ReLU and 2x2 max pooling, then one linear layer onto
// two logits. 28x28 -> 8x24x24 -> 8x12x12 -> 16x8x8 -> 16x4x4 -> 2; 3,850
// parameters in six tensors. Keep the two in step.

#ifndef LRMEM_BENCH_SMALL_CNN_H_
#define LRMEM_BENCH_SMALL_CNN_H_

#include "torch/torch.h"

namespace lrmem::bench {

struct SmallCnnImpl : torch::nn::Module {
  SmallCnnImpl()
      : conv1(register_module(
            "conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 8, 5)))),
        conv2(register_module(
            "conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 16, 5)))),
        fc(register_module("fc", torch::nn::Linear(16 * 4 * 4, 2))) {}

  torch::Tensor forward(torch::Tensor x) {
    x = torch::max_pool2d(torch::relu(conv1->forward(x)), 2);
    x = torch::max_pool2d(torch::relu(conv2->forward(x)), 2);
    return fc->forward(x.flatten(1));
  }

  torch::nn::Conv2d conv1;
  torch::nn::Conv2d conv2;
  torch::nn::Linear fc;
};
TORCH_MODULE(SmallCnn);

}  // namespace lrmem::bench

#endif  // LRMEM_BENCH_SMALL_CNN_H_
