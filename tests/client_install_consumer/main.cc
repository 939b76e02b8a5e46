// Starts an embedded server, creates a memory through the client and trains
// one step with it: proof that the installed headers and libraries suffice.

#include <cstdio>
#include <string>
#include <vector>

#include "lrmem/client.h"
#include "lrmem/embedded_server.h"
#include "lrmem/learner_session.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer DATA_DIR\n");
    return 2;
  }
  lrmem::EmbeddedServer::Options server_options;
  server_options.data_dir = argv[1];
  auto server = lrmem::EmbeddedServer::Start(server_options);
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 1;
  }
  lrmem::Client client((*server)->address());
  lrmem::SessionOptions options;
  options.memory = "consumer";
  options.groups = {{"w", 3}};
  options.create_if_missing = true;
  auto session = lrmem::LearnerSession::Open(&client, options);
  if (!session.ok()) {
    std::fprintf(stderr, "%s\n", session.status().ToString().c_str());
    return 1;
  }
  const std::vector<float> gradient = {0.1f, -0.2f, 0.3f};
  std::vector<std::vector<float>> rates;
  absl::Status status = (*session)->Step({{"w", gradient}}, &rates);
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    return 1;
  }
  std::printf("consumer ok: rate %g\n", rates[0][0]);
  return 0;
}
