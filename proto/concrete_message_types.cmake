# Rewrites the generated activation.grpc.pb.cc so that gRPC's stub and handler
# templates are instantiated for the concrete message types. The gRPC plugin
# passes ::grpc::protobuf::MessageLite as their "base" message types, which
# would make gRPC use SerializationTraits<MessageLite> and never the
# specializations in serialization_traits.h. Each template's base types
# default to the concrete types when left out.
# Usage: cmake -DIN=<generated .grpc.pb.cc> -DOUT=<rewritten> -P <this file>
file(READ ${IN} text)
set(lite "::grpc::protobuf::MessageLite")
# BlockingUnaryCall, CallbackUnaryCall, ClientAsyncResponseReaderHelper::Create,
# RpcMethodHandler: drop the two trailing base-type arguments.
string(REPLACE ", ${lite}, ${lite}>" ">" text "${text}")
# ClientCallbackUnaryFactory::Create<Base, Base>(...): deduce from arguments.
string(REPLACE "Create< ${lite}, ${lite}>(" "Create(" text "${text}")
string(FIND "${text}" "MessageLite" left)
if(NOT left EQUAL -1)
  message(FATAL_ERROR "${IN} still names MessageLite after the rewrite; "
                      "update ${CMAKE_CURRENT_LIST_FILE} for this gRPC version")
endif()
file(WRITE ${OUT} "${text}")
