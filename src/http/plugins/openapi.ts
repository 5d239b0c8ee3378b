import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { showInput } from '../../model/model-inputs.js';

export interface OpenApiPluginOptions {
  version: string;
}

/**
 * The OpenAPI 3 document, generated from the routes' own zod schemas (the same ones that
 * validate and serialise), at GET /openapi.json; and Swagger UI at GET /docs, served from the
 * installed package's files, so the page loads nothing from outside the machine. Registered
 * before the routes, since it records each route as it is added.
 */
export default fp<OpenApiPluginOptions>(
  async (app, { version }) => {
    await app.register(fastifySwagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'ood-service',
          description:
            'An out-of-distribution detector beside a classifier: every prediction carries an outlier score. ' +
            'The same models answer on the service\'s own /predict, the Open Inference Protocol v2 (/v2) and TensorFlow Serving\'s REST API (/v1/models).',
          version,
        },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      },
      transform: jsonSchemaTransform,
    });
    await app.register(fastifySwaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: false } });
    // The schemas say what any model takes; which inputs each served model takes is known only
    // once it is loaded, so the document names them when it is asked for.
    app.get('/openapi.json', { schema: { hide: true } }, async () => {
      const document = app.swagger() as { info: { description?: string } };
      const models = app.servedModels().map((name) => {
        const info = app.readyDetector(name)?.info;
        return { name, ready: info !== undefined, ...(info ? { inputs: info.inputs } : {}) };
      });
      const lines = models
        .filter((m) => m.inputs)
        .map((m) => `Model ${m.name} takes ${m.inputs?.map(showInput).join(', ')}.`);
      return {
        ...document,
        info: { ...document.info, description: [document.info.description, ...lines].filter(Boolean).join('\n\n') },
        'x-served-models': models,
      };
    });
  },
  { name: 'ood-openapi', fastify: '5.x', dependencies: ['ood-detector'] },
);
