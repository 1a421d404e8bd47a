# The verifyflow image: the API (default command) and the worker (`node dist/src/worker.js`) from one build.
#
# UNTESTED HERE: the machines this project is developed and tested on have no container engine, so this file has
# never been built. It runs exactly the commands that are tested: `npm ci`, `npm run build`, then
# `node dist/src/main.js` / `node dist/src/worker.js` (what `npm run cluster` starts per replica). See
# docs/DEPLOYMENT.md for the configuration of each process.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src src
COPY workflows workflows
COPY activities activities
COPY providers providers
COPY sandbox sandbox
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
USER node
EXPOSE 3000
# The worker: docker run … verifyflow node dist/src/worker.js
CMD ["node", "dist/src/main.js"]
