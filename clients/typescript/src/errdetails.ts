// google.rpc.ErrorInfo and google.rpc.BadRequest, described by hand.
//
// The server puts these in the google.rpc.Status of the `grpc-status-details-bin` trailer.
// Rather than vendoring googleapis' error_details.proto (and its imports) into protos/ just to
// generate two messages, this module builds their descriptors at runtime from a minimal
// FileDescriptorProto: the field numbers and types below are the wire contract of
// google/rpc/error_details.proto. Fields not listed (e.g. FieldViolation.localized_message)
// are skipped when decoding.
import { create, createFileRegistry, type DescMessage } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";

const string = (name: string, number: number, jsonName: string) => ({
  name,
  number,
  jsonName,
  type: Type.STRING,
  label: Label.OPTIONAL,
});

const file = create(FileDescriptorProtoSchema, {
  name: "google/rpc/error_details.proto",
  package: "google.rpc",
  syntax: "proto3",
  messageType: [
    {
      name: "ErrorInfo",
      field: [
        string("reason", 1, "reason"),
        string("domain", 2, "domain"),
        {
          name: "metadata",
          number: 3,
          jsonName: "metadata",
          type: Type.MESSAGE,
          label: Label.REPEATED,
          typeName: ".google.rpc.ErrorInfo.MetadataEntry",
        },
      ],
      nestedType: [
        {
          name: "MetadataEntry",
          field: [string("key", 1, "key"), string("value", 2, "value")],
          options: { mapEntry: true },
        },
      ],
    },
    {
      name: "BadRequest",
      field: [
        {
          name: "field_violations",
          number: 1,
          jsonName: "fieldViolations",
          type: Type.MESSAGE,
          label: Label.REPEATED,
          typeName: ".google.rpc.BadRequest.FieldViolation",
        },
      ],
      nestedType: [
        {
          name: "FieldViolation",
          field: [
            string("field", 1, "field"),
            string("description", 2, "description"),
            string("reason", 3, "reason"),
          ],
        },
      ],
    },
  ],
});

const registry = createFileRegistry(file, () => undefined);

function message(typeName: string): DescMessage {
  const desc = registry.getMessage(typeName);
  if (!desc) throw new Error(`descriptor for ${typeName} is missing`);
  return desc;
}

/** Descriptor of google.rpc.ErrorInfo. */
export const ErrorInfoSchema = message("google.rpc.ErrorInfo");
/** Descriptor of google.rpc.BadRequest. */
export const BadRequestSchema = message("google.rpc.BadRequest");

/** The decoded fields of google.rpc.ErrorInfo. */
export interface ErrorInfo {
  reason: string;
  domain: string;
  metadata: Record<string, string>;
}

/** The decoded fields of google.rpc.BadRequest. */
export interface BadRequest {
  fieldViolations: { field: string; description: string; reason: string }[];
}
