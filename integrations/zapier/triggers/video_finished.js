'use strict';

const { baseUrl } = require('../common');
const { SAMPLE_EVENT, eventItem } = require('../events');

// "Video ready / failed": an instant trigger on the gateway's subscriptions (REST hooks).

const subscriptionBody = (bundle) => {
  const input = bundle.inputData || {};
  const events = Array.isArray(input.events) && input.events.length
    ? input.events
    : ['completed', 'failed'];
  const body = { target_url: bundle.targetUrl, events };
  if (input.model) {
    body.models = [input.model];
  }
  return body;
};

const performSubscribe = async (z, bundle) => {
  const response = await z.request({
    url: `${baseUrl(bundle)}/v1/subscriptions`,
    method: 'POST',
    body: subscriptionBody(bundle),
  });
  return response.data; // {id, …}: kept as bundle.subscribeData
};

const performUnsubscribe = async (z, bundle) => {
  const response = await z.request({
    url: `${baseUrl(bundle)}/v1/subscriptions/${encodeURIComponent(bundle.subscribeData.id)}`,
    method: 'DELETE',
    skipThrowForStatus: true,
  });
  if (response.status !== 204 && response.status !== 404) {
    // 404: already gone (deleted elsewhere); anything else is a real failure
    throw new z.errors.Error(`Unsubscribing failed: HTTP ${response.status}`);
  }
  return {};
};

// The webhook body the gateway sent: {type, timestamp, data: job}.
const perform = async (z, bundle) => [eventItem(bundle.cleanedRequest)];

const performList = async (z, bundle) => {
  const { events, models } = subscriptionBody(bundle);
  const response = await z.request({
    url: `${baseUrl(bundle)}/v1/subscriptions/sample`,
    params: { events: events.join(','), ...(models ? { models: models.join(',') } : {}) },
  });
  return response.data.map(eventItem);
};

module.exports = {
  key: 'video_finished',
  noun: 'Video',
  display: {
    label: 'Video Ready or Failed',
    description: 'Triggers when a video generation job finishes (completed or failed).',
  },
  operation: {
    type: 'hook',
    inputFields: [
      {
        key: 'events',
        label: 'When the video is',
        required: false,
        list: true,
        choices: { completed: 'Completed', failed: 'Failed' },
        helpText: 'Both by default.',
      },
      { key: 'model', label: 'Only this model', required: false, type: 'string' },
    ],
    performSubscribe,
    performUnsubscribe,
    perform,
    performList,
    sample: eventItem(SAMPLE_EVENT),
  },
};
