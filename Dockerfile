# Keel: gateway, collector and SLO engine in one image; the command picks the role
# (docker-compose.yml runs `gateway`, `collector` and `simulator` from it).
FROM node:20.18.1-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev && touch dist/.built

FROM node:20.18.1-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app /app
# The collector's spool and marker files (deploy/keel.yaml); a new named volume takes this ownership.
RUN mkdir -p /var/lib/keel && chown node:node /var/lib/keel
USER node
ENTRYPOINT ["node", "bin/keel.js"]
CMD ["start"]
