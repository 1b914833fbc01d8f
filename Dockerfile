# One image for every Umbra service; the command picks which one runs.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
COPY domain ./domain
COPY infra ./infra
COPY services ./services
COPY simulations ./simulations
COPY bin ./bin
COPY tsconfig.json nats.conf ./
ENV NODE_ENV=production
# The flags of services/node-flags.ts (a larger young generation), for every service the image runs.
ENV NODE_OPTIONS=--max-semi-space-size=64
ENTRYPOINT ["npx", "tsx"]
CMD ["services/main.ts"]
