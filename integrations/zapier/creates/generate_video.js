'use strict';

const { baseUrl } = require('../common');
const { SAMPLE_EVENT, eventItem } = require('../events');

// "Generate video": submits a job whose callback_url is this Zap step's callback URL, so the
// step waits (without polling) until the gateway POSTs the finished job's webhook; then
// performResume turns that webhook into the step's output.

const OPTIONAL = ['image_url', 'video_url', 'aspect_ratio', 'resolution', 'duration', 'seed'];

const perform = async (z, bundle) => {
  const input = bundle.inputData;
  const body = {
    ...(input.extra || {}), // any model's own parameters, as key/value pairs
    prompt: input.prompt,
    model: input.model || 'alibaba/happyhorse-1-0',
    callback_url: z.generateCallbackUrl(),
    events: ['completed', 'failed'],
  };
  for (const key of OPTIONAL) {
    if (input[key] !== undefined && input[key] !== null && input[key] !== '') {
      body[key] = input[key];
    }
  }
  if (Array.isArray(input.reference_image_urls) && input.reference_image_urls.length) {
    body.reference_image_urls = input.reference_image_urls;
  }
  if (input.watermark !== undefined && input.watermark !== null && input.watermark !== '') {
    body.watermark = input.watermark;
  }
  if (input.metadata && Object.keys(input.metadata).length) {
    body.metadata = input.metadata;
  }
  const response = await z.request({
    url: `${baseUrl(bundle)}/v1/jobs`,
    method: 'POST',
    body,
  });
  return response.data; // the accepted job: kept as bundle.outputData for performResume
};

// The gateway's webhook body {type, timestamp, data: job} arrives as bundle.cleanedRequest.
const performResume = async (z, bundle) => ({
  ...bundle.outputData,
  ...eventItem(bundle.cleanedRequest),
});

module.exports = {
  key: 'generate_video',
  noun: 'Video',
  display: {
    label: 'Generate Video',
    description:
      'Generates a video with any AI/ML API video model and waits until it is ready (or failed).',
  },
  operation: {
    inputFields: [
      { key: 'prompt', label: 'Prompt', required: true, type: 'text' },
      {
        key: 'model',
        label: 'Model',
        required: false,
        type: 'string',
        default: 'alibaba/happyhorse-1-0',
        helpText: 'Any video model the gateway supports.',
      },
      { key: 'image_url', label: 'Image URL', required: false, type: 'string' },
      {
        key: 'reference_image_urls',
        label: 'Reference image URLs',
        required: false,
        type: 'string',
        list: true,
      },
      { key: 'video_url', label: 'Video URL', required: false, type: 'string' },
      { key: 'duration', label: 'Duration (seconds)', required: false, type: 'integer' },
      {
        key: 'resolution',
        label: 'Resolution',
        required: false,
        choices: { '720p': '720p', '1080p': '1080p' },
      },
      {
        key: 'aspect_ratio',
        label: 'Aspect ratio',
        required: false,
        choices: { '16:9': '16:9', '9:16': '9:16', '1:1': '1:1', '4:3': '4:3', '3:4': '3:4' },
      },
      { key: 'seed', label: 'Seed', required: false, type: 'integer' },
      { key: 'watermark', label: 'Watermark', required: false, type: 'boolean' },
      {
        key: 'extra',
        label: 'Other model parameters',
        required: false,
        dict: true,
        helpText: "Any other field of the model's request, as name and value.",
      },
      {
        key: 'metadata',
        label: 'Metadata',
        required: false,
        dict: true,
        helpText: 'Echoed back in the result (e.g. an order id).',
      },
    ],
    perform,
    performResume,
    sample: { ...SAMPLE_EVENT.data, ...eventItem(SAMPLE_EVENT) },
  },
};
