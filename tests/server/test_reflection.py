"""Server reflection in actd: grpc.reflection.v1alpha lists the activation
service and serves its descriptor, so tools like grpcurl work without the
.proto file.
"""

from google.protobuf import descriptor_pb2

import actd_harness as h


class ReflectionTest(h.ActdTestCase):

    def ask(self, server, **request):
        stub = h.reflection_pb2_grpc.ServerReflectionStub(server.channel())
        responses = list(stub.ServerReflectionInfo(
            iter([h.reflection_pb2.ServerReflectionRequest(**request)]), timeout=5))
        self.assertEqual(len(responses), 1)
        return responses[0]

    def test_lists_services(self):
        server = self.start()
        response = self.ask(server, list_services="")
        self.assertEqual(response.WhichOneof("message_response"), "list_services_response")
        names = {s.name for s in response.list_services_response.service}
        self.assertIn("activation.v1.ActivationService", names)
        self.assertIn("grpc.health.v1.Health", names)

    def test_serves_the_descriptor(self):
        server = self.start()
        response = self.ask(server, file_containing_symbol="activation.v1.ActivationService")
        self.assertEqual(response.WhichOneof("message_response"), "file_descriptor_response")
        files = [descriptor_pb2.FileDescriptorProto.FromString(b)
                 for b in response.file_descriptor_response.file_descriptor_proto]
        by_name = {f.name: f for f in files}
        self.assertIn("activation/v1/activation.proto", by_name)
        service = [s for s in by_name["activation/v1/activation.proto"].service
                   if s.name == "ActivationService"]
        self.assertEqual(len(service), 1)
        self.assertEqual({m.name for m in service[0].method},
                         {"ListActivations", "Forward", "Backward", "BatchEvaluate",
                          "GetServerInfo"})


if __name__ == "__main__":
    h.main()
