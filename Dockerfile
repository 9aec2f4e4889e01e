FROM node:20-bookworm-slim
# util-linux provides setpriv (parent-death signal for step processes).
RUN apt-get update && apt-get install -y --no-install-recommends util-linux procps && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
ENV NODE_ENV=production
# The worker's memory settings (src/workers/memory-settings.ts).
ENV MALLOC_ARENA_MAX=2
CMD ["node", "--max-semi-space-size=2", "--import", "tsx", "src/workers/main.ts"]
