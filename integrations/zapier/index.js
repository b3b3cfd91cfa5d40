'use strict';

const { version: platformVersion } = require('zapier-platform-core');

const { version } = require('./package.json');
const authentication = require('./authentication');
const { addApiKey, explainErrors } = require('./common');
const generateVideo = require('./creates/generate_video');
const videoFinished = require('./triggers/video_finished');

module.exports = {
  version,
  platformVersion,
  authentication,
  beforeRequest: [addApiKey],
  afterResponse: [explainErrors],
  triggers: { [videoFinished.key]: videoFinished },
  creates: { [generateVideo.key]: generateVideo },
};
