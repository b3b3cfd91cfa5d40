'use strict';

// One item per webhook event, the same for the live hook (perform) and the sample list
// (performList): the gateway sends both in the webhook body's shape {type, timestamp, data}.
const eventItem = (event) => {
  const data = event.data || {};
  return {
    ...data,
    id: `${data.id}:${event.type}`, // Zapier deduplicates on id: one item per job and event
    job_id: data.id,
    event_type: event.type,
    event_timestamp: event.timestamp,
  };
};

// What the gateway's GET /v1/subscriptions/sample returns when there are no real events yet.
const SAMPLE_EVENT = {
  type: 'video.generation.completed',
  timestamp: '2025-11-24T16:02:40.000Z',
  data: {
    id: 'job_example00000000000000000',
    status: 'completed',
    model: 'alibaba/happyhorse-1-0',
    created_at: '2025-11-24T16:00:00.000Z',
    updated_at: '2025-11-24T16:02:40.000Z',
    request: { model: 'alibaba/happyhorse-1-0', prompt: 'Mona Lisa puts on glasses with her hands.' },
    metadata: { order_id: '42' },
    events: ['completed', 'failed'],
    callback_url: null,
    generation_id: 'rLCxsu-1_rTBBGbBC6JFJ',
    video_url: 'https://cdn.example.com/videos/example.mp4',
    usage: { credits_used: 1260000, usd_spent: 0.63 },
    error: null,
    submitted_at: '2025-11-24T16:00:01.000Z',
    finished_at: '2025-11-24T16:02:40.000Z',
    deadline_at: '2025-11-24T16:30:00.000Z',
  },
};

module.exports = { SAMPLE_EVENT, eventItem };
