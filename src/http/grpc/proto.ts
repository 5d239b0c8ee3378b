import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * The project's .proto files (proto/ at the root, shipped in the image beside dist/): the Open
 * Inference Protocol's `inference.GRPCInferenceService` and the gRPC health checking protocol.
 * Loaded at run time with proto-loader rather than compiled to code, so the files clients use
 * are the very ones the server reads.
 */
export const PROTO_FILES = {
  inference: 'inference/grpc_predict_v2.proto',
  health: 'grpc/health/v1/health.proto',
} as const;

/** proto/ from src/http/grpc/ (tsx) or dist/http/grpc/ (the image): three folders up either way. */
export function protoRoot(): string {
  const root = fileURLToPath(new URL('../../../proto/', import.meta.url));
  if (!existsSync(root)) throw new Error(`the gRPC service definitions are missing: no ${root}`);
  return root;
}

/**
 * Field names as the protocol spells them (snake_case), int64 as numbers (shapes and INT64
 * values past 2^53 are refused anyway), enums as their names, defaults filled in.
 */
export const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

interface Services {
  inference: grpc.ServiceDefinition;
  health: grpc.ServiceDefinition;
}

let loaded: Services | undefined;

export function services(): Services {
  if (!loaded) {
    const definition = protoLoader.loadSync([PROTO_FILES.inference, PROTO_FILES.health], { ...LOADER_OPTIONS, includeDirs: [protoRoot()] });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as {
      inference: { GRPCInferenceService: grpc.ServiceClientConstructor };
      grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
    };
    loaded = { inference: pkg.inference.GRPCInferenceService.service, health: pkg.grpc.health.v1.Health.service };
  }
  return loaded;
}

/** The messages as proto-loader hands them over with LOADER_OPTIONS (only what the server reads). */
export type InferParameter = { parameter_choice?: 'bool_param' | 'int64_param' | 'string_param'; bool_param?: boolean; int64_param?: number; string_param?: string };

export interface InferTensorContents {
  bool_contents: boolean[];
  int_contents: number[];
  int64_contents: number[];
  uint_contents: number[];
  uint64_contents: number[];
  fp32_contents: number[];
  fp64_contents: number[];
  bytes_contents: Buffer[];
}

export interface ModelInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, InferParameter>;
  inputs: { name: string; datatype: string; shape: number[]; parameters: Record<string, InferParameter>; contents: InferTensorContents | null }[];
  outputs: { name: string; parameters: Record<string, InferParameter> }[];
  raw_input_contents: Buffer[];
}

export interface ModelInferResponse {
  model_name: string;
  model_version: string;
  id: string;
  outputs: { name: string; datatype: string; shape: number[]; contents?: Partial<InferTensorContents> }[];
  raw_output_contents: Buffer[];
}
