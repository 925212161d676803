FROM node:24-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
# Fixes to dependencies, applied by npm ci's postinstall (patch-package): see patches/.
COPY patches ./patches
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev
ENV NODE_ENV=production
