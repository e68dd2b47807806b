// The subset of onnx.proto that the loader reads, with the official field numbers, compiled by protobufjs.
import * as protobuf from 'protobufjs';

/*
 * Subgraph attributes (AttributeProto.g/graphs), sparse tensors, training info, functions and the non-tensor
 * members of TypeProto are left out on purpose: protobufjs skips unknown fields, so files that use them still
 * decode, and leaving out every recursive message keeps hostile nesting from exhausting the stack.
 */
const ONNX_PROTO = `
syntax = "proto2";
package onnx;

message StringStringEntryProto {
  optional string key = 1;
  optional string value = 2;
}

message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
    optional string denotation = 3;
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
  optional string denotation = 6;
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
  optional string doc_string = 3;
}

message TensorProto {
  enum DataLocation {
    DEFAULT = 0;
    EXTERNAL = 1;
  }
  message Segment {
    optional int64 begin = 1;
    optional int64 end = 2;
  }
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  optional Segment segment = 3;
  repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated bytes string_data = 6;
  repeated int64 int64_data = 7 [packed = true];
  optional string name = 8;
  optional string doc_string = 12;
  optional bytes raw_data = 9;
  repeated StringStringEntryProto external_data = 13;
  optional DataLocation data_location = 14;
  repeated double double_data = 10 [packed = true];
  repeated uint64 uint64_data = 11 [packed = true];
}

message AttributeProto {
  enum AttributeType {
    UNDEFINED = 0;
    FLOAT = 1;
    INT = 2;
    STRING = 3;
    TENSOR = 4;
    GRAPH = 5;
    SPARSE_TENSOR = 11;
    TYPE_PROTO = 13;
    FLOATS = 6;
    INTS = 7;
    STRINGS = 8;
    TENSORS = 9;
    GRAPHS = 10;
    SPARSE_TENSORS = 12;
    TYPE_PROTOS = 14;
  }
  optional string name = 1;
  optional string ref_attr_name = 21;
  optional string doc_string = 13;
  optional AttributeType type = 20;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  repeated TensorProto tensors = 10;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  optional string domain = 7;
  repeated AttributeProto attribute = 5;
  optional string doc_string = 6;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}

message ModelProto {
  optional int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
}
`;

/** A protobufjs int64 as decoded: a number, or a Long when the `long` package is present. */
export type Int64 = number | bigint | string | { low: number; high: number; unsigned: boolean; toNumber(): number };

/** Decoded TensorProto (protobufjs camel-cases the field names). */
export interface TensorProtoMessage {
  dims: Int64[];
  dataType: number;
  floatData: number[];
  int32Data: number[];
  stringData: Uint8Array[];
  int64Data: Int64[];
  name: string;
  rawData: Uint8Array;
  externalData: { key: string; value: string }[];
  dataLocation: number;
  doubleData: number[];
  uint64Data: Int64[];
  segment?: unknown;
}

/** Decoded AttributeProto. */
export interface AttributeProtoMessage {
  name: string;
  refAttrName: string;
  type: number;
  f: number;
  i: Int64;
  s: Uint8Array;
  t?: TensorProtoMessage | null;
  floats: number[];
  ints: Int64[];
  strings: Uint8Array[];
  tensors: TensorProtoMessage[];
}

/** Decoded NodeProto. */
export interface NodeProtoMessage {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  domain: string;
  attribute: AttributeProtoMessage[];
}

/** Decoded TensorShapeProto.Dimension. */
export interface DimensionMessage {
  dimValue?: Int64 | null;
  dimParam?: string | null;
  value?: 'dimValue' | 'dimParam';
}

/** Decoded ValueInfoProto. */
export interface ValueInfoProtoMessage {
  name: string;
  type?: { tensorType?: { elemType: number; shape?: { dim: DimensionMessage[] } | null } | null } | null;
}

/** Decoded GraphProto. */
export interface GraphProtoMessage {
  node: NodeProtoMessage[];
  name: string;
  initializer: TensorProtoMessage[];
  input: ValueInfoProtoMessage[];
  output: ValueInfoProtoMessage[];
  valueInfo: ValueInfoProtoMessage[];
}

/** Decoded ModelProto. */
export interface ModelProtoMessage {
  irVersion: Int64;
  opsetImport: { domain: string; version: Int64 }[];
  producerName: string;
  producerVersion: string;
  domain: string;
  graph?: GraphProtoMessage | null;
}

let root: protobuf.Root | null = null;

/** The compiled schema (parsed once, on first use). */
export function onnxRoot(): protobuf.Root {
  if (!root) root = protobuf.parse(ONNX_PROTO, { keepCase: false }).root;
  return root;
}

/** The `onnx.ModelProto` message type, for decoding and (in tests) encoding. */
export function modelProtoType(): protobuf.Type {
  return onnxRoot().lookupType('onnx.ModelProto');
}

/** ONNX TensorProto.DataType values the loader knows. */
export const DATA_TYPE = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9, FLOAT16: 10,
  DOUBLE: 11, UINT32: 12, UINT64: 13, BFLOAT16: 16,
} as const;

/** Converts a decoded int64 to a number (values beyond 2^53 lose precision but stay huge, which is what the checks need). */
export function int64(value: Int64 | null | undefined): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint' || typeof value === 'string') return Number(value);
  return typeof value.toNumber === 'function' ? value.toNumber() : NaN;
}
