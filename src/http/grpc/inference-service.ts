import type { FastifyInstance } from 'fastify';
import { OodError } from '../../errors.js';
import { checkVersion } from '../protocols/model-version.js';
import { checkSelectedOutputs, outputTensors } from '../protocols/output-tensors.js';
import { v2Metadata } from '../protocols/v2-metadata.js';
import { repositoryIndex, repositoryTarget } from '../protocols/repository-calls.js';
import { decodeV2Inputs } from '../protocols/v2-tensors.js';
import { grpcInferResponse, grpcInputs, wantsRawOutputs } from './infer-codec.js';
import type { ModelInferRequest, ModelInferResponse } from './proto.js';

/** What a handler of `inference.GRPCInferenceService` is given (checked for its token already). */
export interface UnaryCall<Req> {
  request: Req;
}

/** The methods that load and unload models: open to a caller on this host, else as the admin routes (a token). */
export const REPOSITORY_METHODS: ReadonlySet<string> = new Set(['RepositoryModelLoad', 'RepositoryModelUnload']);

/** The methods a call needs a token for (when tokens are set): those that score, as on REST. */
export const AUTHORIZED_METHODS: ReadonlySet<string> = new Set(['ModelInfer']);
/** The methods answered UNAVAILABLE (OVERLOADED) under pressure, as REST's inference routes. */
export const SHED_METHODS: ReadonlySet<string> = new Set(['ModelInfer']);

interface RepositoryModelRequest {
  repository_name: string;
  model_name: string;
  parameters: Record<string, unknown>;
}

interface NameVersion {
  name: string;
  version: string;
}

/** An empty string is proto3's "not given". */
const given = (value: string) => (value === '' ? undefined : value);

function requireName(name: string, field: string): string {
  if (name === '') throw new OodError('BAD_REQUEST', `${field} is empty; it names a served model`);
  return name;
}

/**
 * The Open Inference Protocol over gRPC, on the same app as REST: the same readiness, metadata,
 * and the one scoring path (lease, decode, predict, count, keep for review, release). Each
 * handler returns the response message or throws an OodError, which grpc-status.ts turns into
 * a gRPC status.
 */
export function inferenceHandlers(app: FastifyInstance, serverVersion: string) {
  const modelReady = ({ request }: UnaryCall<NameVersion>) => {
    const detector = app.readyDetector(requireName(request.name, 'name'));
    if (detector) checkVersion(detector.info, given(request.version));
    return { ready: detector !== undefined };
  };

  const modelInfer = async ({ request }: UnaryCall<ModelInferRequest>): Promise<ModelInferResponse> => {
    const selected = request.outputs.length > 0 ? request.outputs.map((o) => o.name) : undefined;
    const inputs = grpcInputs(request);
    const { info, result } = await app.score({
      model: requireName(request.model_name, 'model_name'),
      protocol: 'grpc',
      decode: (model, maxRows, text) => {
        checkVersion(model, given(request.model_version));
        checkSelectedOutputs(model, selected);
        return decodeV2Inputs(inputs.tensors, model, maxRows, inputs.binaryAt, text, (t) => `inputs[${t}]`, inputs.dataOf);
      },
    });
    return grpcInferResponse(info, request.id, outputTensors(result.predictions, info, selected), wantsRawOutputs(request));
  };

  const repositoryCall = (request: RepositoryModelRequest, method: string) => ({
    repository: repositoryTarget(app, request.parameters, method),
    name: requireName(request.model_name, 'model_name'),
  });

  return {
    ServerLive: () => ({ live: true }),
    ServerReady: () => ({ ready: app.allReady() }),
    ModelReady: modelReady,
    ServerMetadata: () => ({ name: 'ood-service', version: serverVersion, extensions: app.repository ? ['model_repository'] : [] }),
    ModelMetadata: ({ request }: UnaryCall<NameVersion>) => {
      const info = app.requireDetector(requireName(request.name, 'name')).info;
      checkVersion(info, given(request.version));
      return v2Metadata(info);
    },
    ModelInfer: modelInfer,
    RepositoryIndex: ({ request }: UnaryCall<{ ready: boolean }>) => ({ models: repositoryIndex(app, request.ready) }),
    RepositoryModelLoad: async ({ request }: UnaryCall<RepositoryModelRequest>) => {
      const { repository, name } = repositoryCall(request, 'RepositoryModelLoad');
      await repository.load(name);
      return {};
    },
    RepositoryModelUnload: ({ request }: UnaryCall<RepositoryModelRequest>) => {
      const { repository, name } = repositoryCall(request, 'RepositoryModelUnload');
      repository.unload(name);
      return {};
    },
  } satisfies Record<string, (call: UnaryCall<never>) => unknown>;
}
