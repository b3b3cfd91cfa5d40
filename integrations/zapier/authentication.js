'use strict';

const { baseUrl } = require('./common');

// API-key auth; the connection test is GET /v1/me (who the key belongs to).
module.exports = {
  type: 'custom',
  fields: [
    {
      key: 'base_url',
      label: 'Gateway URL',
      required: true,
      type: 'string',
      helpText: 'Where your video webhook gateway runs, e.g. `https://videos.example.com`.',
    },
    {
      key: 'api_key',
      label: 'API key',
      required: true,
      type: 'password',
      helpText: 'A client key of the gateway (`gateway clients create --name zapier`).',
    },
  ],
  test: async (z, bundle) => {
    const response = await z.request({ url: `${baseUrl(bundle)}/v1/me` });
    return response.data;
  },
  connectionLabel: '{{name}}',
};
