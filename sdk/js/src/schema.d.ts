// Generated from the server's OpenAPI document by `npm run generate`: do not edit.
export interface paths {
    "/api/v1/auth/login": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Get authentication tokens
         * @description Exchange a username and password for an RS256 access token and a single-use refresh token (anonymous rate
         *     limit; repeated failures lock the account out for a while).
         */
        post: operations["auth_login"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/auth/refresh": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Refresh the tokens
         * @description A new access and refresh token for a refresh token, which is then spent (blacklisted).
         */
        post: operations["auth_refresh"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/consensus/history": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get consensus decision history
         * @description The ledger's decisions, newest first, of one session or all: each round's proposals, votes, accepted and
         *     rejected updates, the resulting model hash and which nodes confirmed it.
         */
        get: operations["consensus_history"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/consensus/status": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get consensus protocol status
         * @description The running (or last) session's latest round: its phase, deadline, proposals with the votes so far, the policy
         *     (quorum, operator approval) and whether the swarm is partitioned.
         */
        get: operations["consensus_status"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/consensus/vote": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Submit vote for model update
         * @description An operator's approval or rejection of a proposal of an open round, by proposal_id or by round_id and node_id.
         *     Under require_operator_approval a proposal needs one to be accepted.
         */
        post: operations["consensus_vote"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/datasets": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List prepared datasets
         * @description Datasets a session can name (`dataset: <name>`), with their token counts and splits.
         */
        get: operations["datasets_list"];
        put?: never;
        /**
         * Prepare a dataset (staff)
         * @description A worker tokenises the source into a named dataset of memory-mapped shards; answers at once with status
         *     preparing (follow dataset_progress events or poll the dataset).
         */
        post: operations["datasets_prepare"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/datasets/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get one dataset
         * @description Also while it is being prepared, or after its preparation failed (with the error).
         */
        get: operations["datasets_retrieve"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/models": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List available models
         * @description The checkpoints in the model store, newest first, of one session or all.
         */
        get: operations["models_list"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/models/{model_id}/download": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Download model checkpoint
         * @description The safetensors file, streamed; its sha256 is the ETag, for the client to verify. MODEL_CORRUPT when the
         *     stored bytes no longer match.
         */
        get: operations["models_download"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/models/{model_id}/export": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Export a model for other tools
         * @description A tar archive of a Hugging Face folder (config.json, model.safetensors, tokenizer) that transformers'
         *     AutoModelForCausalLM.from_pretrained loads.
         */
        get: operations["models_export"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/models/{model_id}/generate": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Generate text with a model
         * @description The server samples up to 1024 tokens after the prompt from the checkpoint.
         */
        post: operations["models_generate"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/models/load": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Load saved model (staff)
         * @description Verify the checkpoint and make it the starting weights of the next session.
         */
        post: operations["models_load"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/models/save": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Save current model state (staff)
         * @description Register the running (or last) session's current global model as a checkpoint.
         */
        post: operations["models_save"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/network/discover": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Trigger peer discovery (staff)
         * @description Ping every node; those that do not answer in time are marked offline.
         */
        post: operations["network_discover"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/network/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get network performance metrics
         * @description A page of the nodes' exchange figures (bytes, fetch latency, round time), with totals over all of them.
         */
        get: operations["network_metrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/network/topology": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get current network topology
         * @description The session's members and the exchange between them, over a page of the nodes.
         */
        get: operations["network_topology"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/nodes": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List all nodes in the swarm
         * @description A page of the nodes, optionally of some statuses, with the counts of all and of the active ones.
         */
        get: operations["nodes_list"];
        put?: never;
        /**
         * Create a new swarm node (staff)
         * @description A pending node with its configuration, for `ncrsh worker --node <id>` to claim.
         */
        post: operations["nodes_create"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/nodes/{node_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get detailed node information */
        get: operations["nodes_retrieve"];
        put?: never;
        post?: never;
        /**
         * Remove node from swarm (staff)
         * @description CONFLICT while the node trains in a running session.
         */
        delete: operations["nodes_destroy"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/training/sessions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List training sessions
         * @description A page of the sessions, newest first, of one status or any.
         */
        get: operations["training_sessions_list"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/training/sessions/{session_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get one training session
         * @description Its configuration, members, run metrics, final model and a summary of its rounds in the ledger.
         */
        get: operations["training_sessions_retrieve"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/training/start": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Start distributed training session (staff)
         * @description TRAINING_IN_PROGRESS while another runs; the members are the named nodes or every active one.
         */
        post: operations["training_start"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/training/status": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get current training status
         * @description The running session, else the last one: progress (step, round, loss, bits per byte, tokens/s, MFU) and each
         *     member's state.
         */
        get: operations["training_status"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/training/stop": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Stop current training session (staff)
         * @description Every node stops after its current step; the final model is saved.
         */
        post: operations["training_stop"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /**
         * @description * `mean` - mean
         *     * `trimmed_mean` - trimmed_mean
         *     * `median` - median
         *     * `krum` - krum
         * @enum {string}
         */
        AggregatorEnum: "mean" | "trimmed_mean" | "median" | "krum";
        Checkpoint: {
            /** Format: date-time */
            created: string;
            id: string;
            /** @description chosen as the next session's starting weights */
            readonly loaded: boolean;
            metrics: unknown;
            model_config: unknown;
            model_hash: string;
            round: number;
            session: string | null;
            sha256: string;
            /** @description bytes */
            size: number;
            step: number;
        };
        /** @description The paging fields of a list-shaped response (subclass to add its rows). */
        CheckpointList: {
            limit: number;
            /** @description newest first */
            models: components["schemas"]["Checkpoint"][];
            /**
             * Format: uri
             * @description the next page, if any
             */
            next: string | null;
            offset: number;
            /**
             * Format: uri
             * @description the previous page, if any
             */
            previous: string | null;
            /** @description rows matching the filter */
            total: number;
        };
        ConsensusDecisionEvent: {
            data: {
                accepted: string[];
                committed: boolean;
                reason: string;
                rejected: string[];
                round: number;
                round_id: string;
                session_id: string;
            };
            /** Format: date-time */
            timestamp: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "consensus_decision";
        };
        ConsensusStatus: {
            aggregator: unknown;
            /**
             * Format: date-time
             * @description when the open round stops waiting
             */
            deadline: string | null;
            last_decision: components["schemas"]["Decision"] | null;
            members: string[];
            min_participants: number;
            nodes_alive: number;
            partition: boolean;
            /**
             * @description voting: the latest round is open (proposals in, no decision yet)
             *
             *     * `training` - training
             *     * `voting` - voting
             *     * `stopping` - stopping
             *     * `stopped` - stopped
             *     * `completed` - completed
             *     * `failed` - failed
             */
            phase: components["schemas"]["PhaseEnum"];
            /** @description the latest round's, with the votes so far */
            proposals: components["schemas"]["Proposal"][];
            /** Format: double */
            quorum: number;
            require_operator_approval: boolean;
            round: number | null;
            round_id: string | null;
            session_id: string;
            session_status: string;
        };
        ConsensusVoteEvent: {
            data: {
                approve: boolean;
                proposal: string;
                proposal_id: string;
                reason: string;
                round: number;
                round_id: string;
                session_id: string;
                voter: string;
            };
            /** Format: date-time */
            timestamp: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "consensus_vote";
        };
        Dataset: {
            bytes: number;
            /** Format: date-time */
            created_at: string;
            error: string;
            /** Format: date-time */
            finished_at: string | null;
            name: string;
            readonly shards: number;
            source: string;
            status: components["schemas"]["DatasetStatusEnum"];
            tokenizer: string;
            readonly tokenizer_sha256: string;
            tokens: number;
            readonly train_tokens: number;
            readonly val_tokens: number;
            vocab_size: number | null;
        };
        /** @description The paging fields of a list-shaped response (subclass to add its rows). */
        DatasetList: {
            datasets: components["schemas"]["Dataset"][];
            limit: number;
            /**
             * Format: uri
             * @description the next page, if any
             */
            next: string | null;
            offset: number;
            /**
             * Format: uri
             * @description the previous page, if any
             */
            previous: string | null;
            /** @description rows matching the filter */
            total: number;
        };
        DatasetPreparedEvent: {
            data: {
                error: string;
                name: string;
                status: string;
                tokens?: number;
            };
            /** Format: date-time */
            timestamp: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "dataset_prepared";
        };
        /** @description Input serializer that rejects keys it does not know, so a typo is an error, not a default. */
        DatasetPrepareInputRequest: {
            name: string;
            /** @description builtin:pystdlib, file:<path or glob>, <folder in NCRSH_DATA_DIR>, huggingface:<name> */
            source: string;
            /**
             * @description byte, bpe, hf:<name>, file:<path>
             * @default byte
             */
            tokenizer: string;
            /** @description bpe only */
            vocab_size?: number;
        };
        DatasetProgressEvent: {
            data: {
                bytes: number;
                name: string;
                tokens: number;
                tokens_per_s: number;
            };
            /** Format: date-time */
            timestamp: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "dataset_progress";
        };
        /**
         * @description * `preparing` - Preparing
         *     * `ready` - Ready
         *     * `failed` - Failed
         * @enum {string}
         */
        DatasetStatusEnum: "preparing" | "ready" | "failed";
        Decision: {
            accepted: string[];
            aggregator: unknown;
            /** @description a saved checkpoint of the resulting model */
            checkpoint: string | null;
            committed: boolean;
            /** @description nodes that reported ending the round with model_hash */
            confirmed_by: string[];
            /** Format: date-time */
            decided_at: string;
            decided_by: string;
            /** @description nodes that reported another model after the round: its hash */
            diverged: {
                [key: string]: string;
            };
            /** @description the round's members: quorum and majority are counted over them */
            members: string[];
            /** @description members without a proposal in time (stragglers, nodes gone) */
            missing: string[];
            model_hash: string;
            proposals: components["schemas"]["Proposal"][];
            reason: string;
            reasons: {
                [key: string]: string[];
            };
            rejected: string[];
            round: number;
            round_id: string;
            session_id: string;
            status: string;
            votes: {
                [key: string]: {
                    [key: string]: number;
                };
            };
        };
        DiscoverOutput: {
            /** @description answered, were not registered */
            discovered: string[];
            /** @description round trip per node */
            latency_ms: {
                [key: string]: number;
            };
            /** @description were alive, did not answer: offline */
            lost: string[];
            /** @description answered, now active */
            updated: string[];
        };
        Edge: {
            bytes: number;
            fetches: number;
            /** @description time each fetch of an update took */
            latency_ms: components["schemas"]["Latency"];
            /** @description the node whose updates travel along the edge */
            source: string;
            /** @description the node that fetched them */
            target: string;
        };
        Error: {
            error: components["schemas"]["ErrorBody"];
        };
        ErrorBody: {
            /** @description 1001-1005 for the spec's errors, else the HTTP status */
            code: number;
            /** @description text, or field errors for VALIDATION_ERROR */
            detail: unknown;
            /** @description e.g. NODE_NOT_FOUND, VALIDATION_ERROR */
            message: string;
        };
        /** @description A message of the WebSocket feed at /api/v1/ws (?types= subscribes to some types). */
        Event: components["schemas"]["NodeJoinedEvent"] | components["schemas"]["NodeLeftEvent"] | components["schemas"]["TrainingStartedEvent"] | components["schemas"]["TrainingProgressEvent"] | components["schemas"]["TrainingStoppedEvent"] | components["schemas"]["ConsensusVoteEvent"] | components["schemas"]["ConsensusDecisionEvent"] | components["schemas"]["ModelUpdateEvent"] | components["schemas"]["DatasetProgressEvent"] | components["schemas"]["DatasetPreparedEvent"];
        /** @description Input serializer that rejects keys it does not know, so a typo is an error, not a default. */
        GenerateInputRequest: {
            /** @default 50 */
            max_new_tokens: number;
            /** @default  */
            prompt: string;
            /**
             * Format: int64
             * @description for a reproducible sample
             */
            seed?: number;
            /**
             * Format: double
             * @description 0: the likeliest token
             * @default 1
             */
            temperature: number;
            /** @description sample among the k likeliest */
            top_k?: number;
        };
        GenerateOutput: {
            /** @description the text generated after the prompt */
            completion: string;
            model_id: string;
            prompt: string;
            /** Format: double */
            seconds: number;
            /** @description tokens generated */
            tokens: number;
        };
        Gpu: {
            /** @description as nvidia-smi numbers it on the host */
            index: number;
            /** @description bytes */
            memory_total: number;
            /** @description bytes, at its last heartbeat */
            memory_used?: number | null;
            name: string;
            /**
             * Format: double
             * @description busy share of the last sample period (0 to 1), at its last heartbeat
             */
            utilization?: number | null;
        };
        /** @description The paging fields of a list-shaped response (subclass to add its rows). */
        History: {
            /** @description newest first */
            decisions: components["schemas"]["Decision"][];
            limit: number;
            /**
             * Format: uri
             * @description the next page, if any
             */
            next: string | null;
            offset: number;
            /**
             * Format: uri
             * @description the previous page, if any
             */
            previous: string | null;
            /** @description rows matching the filter */
            total: number;
        };
        Latency: {
            /** Format: double */
            last: number;
            /** Format: double */
            mean: number;
        };
        /** @description Input serializer that rejects keys it does not know, so a typo is an error, not a default. */
        LoadInputRequest: {
            model_id: string;
        };
        LoginRequest: {
            password: string;
            username: string;
        };
        /** @description Input serializer that rejects keys it does not know, so a typo is an error, not a default. */
        ModelConfig: {
            /** @default 512 */
            hidden_size: number;
            /** @default 8 */
            num_heads: number;
            /** @default 6 */
            num_layers: number;
        };
        /** @description Input serializer that rejects keys it does not know, so a typo is an error, not a default. */
        ModelConfigInputRequest: {
            /** Format: double */
            dropout?: number;
            hidden_size?: number;
            num_heads?: number;
            num_layers?: number;
            /** @default tiny */
            preset: components["schemas"]["PresetEnum"];
            seq_len?: number;
        };
        /** @description Input serializer that rejects keys it does not know, so a typo is an error, not a default. */
        ModelConfigRequest: {
            /** @default 512 */
            hidden_size: number;
            /** @default 8 */
            num_heads: number;
            /** @default 6 */
            num_layers: number;
        };
        ModelUpdateEvent: {
            data: {
                model_hash: string;
                nodes: string[];
                round: number;
                round_id: string;
                session_id: string;
            };
            /** Format: date-time */
            timestamp: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "model_update";
        };
        /** @description Input serializer that rejects keys it does not know, so a typo is an error, not a default. */
        NetworkConfig: {
            /** @default 10 */
            max_peers: number;
            /** @default 8080 */
            port: number;
        };
        /** @description Input serializer that rejects keys it does not know, so a typo is an error, not a default. */
        NetworkConfigRequest: {
            /** @default 10 */
            max_peers: number;
            /** @default 8080 */
            port: number;
        };
        /** @description The paging fields of a list-shaped response (subclass to add its rows). */
        NetworkMetrics: {
            limit: number;
            /**
             * Format: uri
             * @description the next page, if any
             */
            next: string | null;
            /** @description a page of the members and the other alive nodes, by id */
            nodes: components["schemas"]["NodeNetwork"][];
            offset: number;
            partition: boolean;
            /**
             * Format: uri
             * @description the previous page, if any
             */
            previous: string | null;
            session_id: string | null;
            /** @description rows matching the filter */
            total: number;
            /** @description over all of them, not only the page */
            totals: components["schemas"]["NetworkTotals"];
        };
        NetworkTotals: {
            bytes_received: number;
            bytes_sent: number;
            latency_ms: components["schemas"]["Stats"];
        };
        /** @description Input serializer that rejects keys it does not know, so a typo is an error, not a default. */
        NodeConfig: {
            model_config?: components["schemas"]["ModelConfig"];
            network_config?: components["schemas"]["NetworkConfig"];
        };
        /** @description Input serializer that rejects keys it does not know, so a typo is an error, not a default. */
        NodeConfigRequest: {
            model_config?: components["schemas"]["ModelConfigRequest"];
            network_config?: components["schemas"]["NetworkConfigRequest"];
        };
        /** @description Input serializer that rejects keys it does not know, so a typo is an error, not a default. */
        NodeCreateInputRequest: {
            config?: components["schemas"]["NodeConfigRequest"];
        };
        NodeDetailOutput: {
            address: string | null;
            config: components["schemas"]["NodeConfig"];
            /** Format: date-time */
            created_at: string;
            /** @description the GPUs its worker trains on, as it reported them; empty on a CPU */
            gpus: components["schemas"]["Gpu"][];
            id: string;
            /** Format: date-time */
            last_seen: string | null;
            /** @description bytes of its training device's memory (sessions are admitted against it) */
            memory_total: number | null;
            model_hash: string | null;
            performance: components["schemas"]["Performance"];
            status: components["schemas"]["NodeStatusEnum"];
            /** Format: date-time */
            updated_at: string;
        };
        NodeJoinedEvent: {
            data: {
                address: string | null;
                members?: string[];
                node_id: string;
                reason?: string;
                round?: number;
                session_id?: string;
                status: components["schemas"]["NodeStatusEnum"];
            };
            /** Format: date-time */
            timestamp: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "node_joined";
        };
        NodeLeftEvent: {
            data: {
                address: string | null;
                node_id: string;
                reason: string;
                status: components["schemas"]["NodeStatusEnum"];
            } | {
                count: number;
                node_ids: string[];
                reason: string;
                status: components["schemas"]["NodeStatusEnum"];
            };
            /** Format: date-time */
            timestamp: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "node_left";
        };
        /** @description The paging fields of a list-shaped response (subclass to add its rows). */
        NodeListOutput: {
            /** @description of those, alive (active, training or idle) */
            active: number;
            limit: number;
            /**
             * Format: uri
             * @description the next page, if any
             */
            next: string | null;
            nodes: components["schemas"]["NodeOutput"][];
            offset: number;
            /**
             * Format: uri
             * @description the previous page, if any
             */
            previous: string | null;
            /** @description rows matching the filter */
            total: number;
        };
        NodeNetwork: {
            bytes_received: number;
            bytes_sent: number;
            /** Format: double */
            control_plane_latency_ms: number | null;
            id: string;
            /** @description fetches of peers' updates, since the node joined */
            latency_ms: components["schemas"]["Stats"];
            /** @description its last round saw fewer than a majority of the members */
            partition: boolean;
            round_seconds: components["schemas"]["Stats"];
            status: components["schemas"]["NodeStatusEnum"];
        };
        NodeOutput: {
            address: string | null;
            id: string;
            /** Format: date-time */
            last_seen: string | null;
            model_hash: string | null;
            performance: components["schemas"]["Performance"];
            status: components["schemas"]["NodeStatusEnum"];
        };
        NodeProgress: {
            /** Format: double */
            batch_progress: number;
            /** Format: double */
            bits_per_byte: number | null;
            id: string;
            /** Format: double */
            loss: number | null;
            /**
             * Format: double
             * @description model FLOPs utilisation, 0-1 (null: device peak unknown)
             */
            mfu: number | null;
            model_hash: string | null;
            status: string;
            step: number;
            /** Format: double */
            tokens_per_s: number | null;
        };
        /**
         * @description * `pending` - Pending
         *     * `active` - Active
         *     * `training` - Training
         *     * `idle` - Idle
         *     * `offline` - Offline
         *     * `left` - Left
         * @enum {string}
         */
        NodeStatusEnum: "pending" | "active" | "training" | "idle" | "offline" | "left";
        OperatorVote: {
            approve: boolean;
            reason: string;
            voter: string;
        };
        /**
         * @description * `pending` - pending
         *     * `accepted` - accepted
         *     * `rejected` - rejected
         * @enum {string}
         */
        OutcomeEnum: "pending" | "accepted" | "rejected";
        Performance: {
            /** Format: double */
            memory_usage: number | null;
            /**
             * Format: double
             * @description milliseconds
             */
            network_latency: number | null;
            /** Format: double */
            training_speed: number | null;
        };
        /**
         * @description * `training` - training
         *     * `voting` - voting
         *     * `stopping` - stopping
         *     * `stopped` - stopped
         *     * `completed` - completed
         *     * `failed` - failed
         * @enum {string}
         */
        PhaseEnum: "training" | "voting" | "stopping" | "stopped" | "completed" | "failed";
        /**
         * @description * `default` - default
         *     * `tiny` - tiny
         * @enum {string}
         */
        PresetEnum: "default" | "tiny";
        Progress: {
            /** Format: double */
            accuracy: number | null;
            /**
             * Format: double
             * @description the loss in bits per byte of text
             */
            bits_per_byte: number | null;
            epoch: number;
            /** Format: double */
            loss: number | null;
            /**
             * Format: double
             * @description mean model FLOPs utilisation of the nodes whose device peak is known (0-1)
             */
            mfu: number | null;
            round: number;
            step: number;
            /** Format: double */
            tokens_per_s: number;
            total_epochs: number;
            total_steps: number;
        };
        Proposal: {
            /**
             * Format: double
             * @description the proposer's local training loss
             */
            loss: number | null;
            node_id: string;
            /** Format: double */
            norm: number | null;
            operator_votes: components["schemas"]["OperatorVote"][];
            outcome: components["schemas"]["OutcomeEnum"];
            proposal_id: string;
            samples: number | null;
            votes: components["schemas"]["VoteCount"];
        };
        RefreshRequest: {
            refresh: string;
        };
        RoundsSummary: {
            committed: number;
            /** @description rounds with a decision in the ledger */
            decided: number;
            /** @description rounds some node ended with another model than the swarm's */
            diverged: number;
            failed: number;
            /**
             * Format: uri
             * @description the rounds themselves: the ledger, a page at a time
             */
            history: string;
            /** @description the model after the latest decided round */
            latest_model_hash: string | null;
        };
        Run: {
            error: string;
            /** @description its final figures (the rounds are in the ledger: the session's rounds) */
            metrics: unknown;
            model_hash: string;
            node: string;
            rank: number;
            round: number;
            status: string;
            step: number;
        };
        /** @description Input serializer that rejects keys it does not know, so a typo is an error, not a default. */
        SaveInputRequest: {
            /** @description default: the running, else the last, session */
            session_id?: string;
        };
        Session: {
            batch_size: number;
            config: unknown;
            /** Format: date-time */
            created_at: string;
            dataset: string;
            epochs: number;
            error: string;
            /** @description the checkpoint it ended with */
            final_model: string | null;
            /** Format: date-time */
            finished_at: string | null;
            id: string;
            initial_checkpoint: string | null;
            /** Format: double */
            learning_rate: number;
            max_steps: number | null;
            metrics: unknown;
            status: components["schemas"]["SessionStatusEnum"];
            strategy: string;
        };
        SessionDetail: {
            batch_size: number;
            config: unknown;
            /** Format: date-time */
            created_at: string;
            dataset: string;
            epochs: number;
            error: string;
            /** @description the checkpoint it ended with */
            final_model: string | null;
            /** Format: date-time */
            finished_at: string | null;
            id: string;
            initial_checkpoint: string | null;
            /** Format: double */
            learning_rate: number;
            max_steps: number | null;
            metrics: unknown;
            rounds: components["schemas"]["RoundsSummary"];
            runs: components["schemas"]["Run"][];
            status: components["schemas"]["SessionStatusEnum"];
            strategy: string;
        };
        /** @description The paging fields of a list-shaped response (subclass to add its rows). */
        SessionList: {
            limit: number;
            /**
             * Format: uri
             * @description the next page, if any
             */
            next: string | null;
            offset: number;
            /**
             * Format: uri
             * @description the previous page, if any
             */
            previous: string | null;
            /** @description newest first */
            sessions: components["schemas"]["Session"][];
            /** @description rows matching the filter */
            total: number;
        };
        /**
         * @description * `running` - Running
         *     * `stopping` - Stopping
         *     * `stopped` - Stopped
         *     * `completed` - Completed
         *     * `failed` - Failed
         * @enum {string}
         */
        SessionStatusEnum: "running" | "stopping" | "stopped" | "completed" | "failed";
        Stats: {
            count: number;
            /** Format: double */
            max: number | null;
            /** Format: double */
            mean: number | null;
            /** Format: double */
            min: number | null;
            /**
             * Format: double
             * @description estimated from the histogram
             */
            p50: number | null;
            /**
             * Format: double
             * @description estimated from the histogram
             */
            p99: number | null;
        };
        /**
         * @description * `sync_sgd` - sync_sgd
         *     * `cooperative_sgd` - cooperative_sgd
         *     * `diloco` - diloco
         * @enum {string}
         */
        StrategyEnum: "sync_sgd" | "cooperative_sgd" | "diloco";
        TokenPairOutput: {
            access: string;
            /** @description access-token lifetime in seconds */
            expires_in: number;
            /** @description single use: refreshing returns a new one */
            refresh: string;
            /** @description always Bearer */
            token_type: string;
        };
        /** @description The paging fields of a list-shaped response (subclass to add its rows). */
        Topology: {
            /** @description the edges into the page's nodes */
            edges: components["schemas"]["Edge"][];
            limit: number;
            /**
             * Format: uri
             * @description the next page, if any
             */
            next: string | null;
            /** @description a page of the members and the other alive nodes, by id */
            nodes: components["schemas"]["TopologyNode"][];
            offset: number;
            /** @description all_to_all: every member fetches every other member's update */
            pattern: string;
            /**
             * Format: uri
             * @description the previous page, if any
             */
            previous: string | null;
            session_id: string | null;
            /** @description rows matching the filter */
            total: number;
            transport: components["schemas"]["TransportEnum"];
        };
        TopologyNode: {
            address: string | null;
            id: string;
            /** @description takes part in the session */
            member: boolean;
            status: components["schemas"]["NodeStatusEnum"];
        };
        TrainingProgressEvent: {
            data: components["schemas"]["TrainingStatus"] & {
                node_id: string;
            };
            /** Format: date-time */
            timestamp: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "training_progress";
        };
        TrainingStartedEvent: {
            data: {
                dataset: string;
                nodes: string[];
                session_id: string;
                status: string;
                strategy: string;
            };
            /** Format: date-time */
            timestamp: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "training_started";
        };
        /** @description Input serializer that rejects keys it does not know, so a typo is an error, not a default. */
        TrainingStartInputRequest: {
            /** @default mean */
            aggregator: components["schemas"]["AggregatorEnum"];
            /** @default 0 */
            aggregator_f: number;
            /** @default 32 */
            batch_size: number;
            check_loss?: boolean;
            /** @description a prepared dataset's name (GET /api/v1/datasets), or builtin:pystdlib, file:<path or glob>, <folder in NCRSH_DATA_DIR>, huggingface:<name> (prepared by the nodes on first use) */
            dataset: string;
            /** Format: double */
            deadline_s?: number;
            /** @default 1 */
            epochs: number;
            /**
             * Format: double
             * @description held-out loss may rise by this fraction
             */
            epsilon?: number;
            /**
             * Format: double
             * @description a proposal's norm may be at most kappa x the median
             */
            kappa?: number;
            /**
             * Format: double
             * @default 0.001
             */
            learning_rate: number;
            /** @description H */
            local_steps?: number;
            log_every?: number;
            max_steps?: number;
            min_participants?: number;
            model_config?: components["schemas"]["ModelConfigInputRequest"];
            /** @description omitted: all active */
            nodes?: string[];
            /** Format: double */
            outer_lr?: number;
            /** Format: double */
            outer_momentum?: number;
            /** Format: double */
            quorum?: number;
            /** @description each proposal also needs an operator's vote (POST /api/v1/consensus/vote) */
            require_operator_approval?: boolean;
            /** @default diloco */
            strategy: components["schemas"]["StrategyEnum"];
            /**
             * @description for a raw dataset spec: byte, bpe (trained on it), hf:<name>, file:<tokenizer.json>; a prepared dataset has its own
             * @default byte
             */
            tokenizer: string;
            /** @description bpe's */
            vocab_size?: number;
            /** @description false: every proposal is merged unvalidated */
            voting?: boolean;
            warmup_steps?: number;
            /** @default float32 */
            wire_dtype: components["schemas"]["WireDtypeEnum"];
        };
        TrainingStatus: {
            nodes: components["schemas"]["NodeProgress"][];
            progress: components["schemas"]["Progress"];
            session_id: string;
            status: components["schemas"]["SessionStatusEnum"];
        };
        TrainingStoppedEvent: {
            data: {
                error: string;
                metrics: Record<string, never>;
                session_id: string;
                status: string;
            };
            /** Format: date-time */
            timestamp: string;
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "training_stopped";
        };
        /**
         * @description * `memory` - memory
         *     * `redis` - redis
         * @enum {string}
         */
        TransportEnum: "memory" | "redis";
        Vote: {
            approve: boolean;
            /** @description the proposing node */
            proposal: string;
            proposal_id: string;
            reason: string;
            /** @description operator:<username>, or a node id */
            voter: string;
        };
        VoteCount: {
            approve: number;
            reject: number;
        };
        /** @description Input serializer that rejects keys it does not know, so a typo is an error, not a default. */
        VoteInputRequest: {
            approve: boolean;
            /** @description the proposing node */
            node_id?: string;
            /** @description as listed by status or history */
            proposal_id?: string;
            /** @default  */
            reason: string;
            /** @description with node_id: the proposal of that node in the round */
            round_id?: string;
        };
        VoteOutput: {
            round: number;
            round_id: string;
            session_id: string;
            vote: components["schemas"]["Vote"];
        };
        /**
         * @description * `float32` - float32
         *     * `float16` - float16
         *     * `bfloat16` - bfloat16
         *     * `int8` - int8
         * @enum {string}
         */
        WireDtypeEnum: "float32" | "float16" | "bfloat16" | "int8";
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    auth_login: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["LoginRequest"];
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TokenPairOutput"];
                };
            };
            /** @description Invalid input (VALIDATION_ERROR with field details, or PARSE_ERROR) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Unsupported media type: send application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    auth_refresh: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RefreshRequest"];
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TokenPairOutput"];
                };
            };
            /** @description Invalid input (VALIDATION_ERROR with field details, or PARSE_ERROR) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Unsupported media type: send application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    consensus_history: {
        parameters: {
            query?: {
                limit?: number;
                offset?: number;
                /** @description a session id; empty or absent: all */
                session?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["History"];
                };
            };
            /** @description Invalid input (VALIDATION_ERROR with field details, or PARSE_ERROR) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    consensus_status: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ConsensusStatus"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not found (NODE_NOT_FOUND 1001 for nodes) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    consensus_vote: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["VoteInputRequest"];
            };
        };
        responses: {
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VoteOutput"];
                };
            };
            /** @description Invalid input (VALIDATION_ERROR with field details, or PARSE_ERROR) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Authenticated but not allowed (staff only) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not found (NODE_NOT_FOUND 1001 for nodes) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflict (TRAINING_IN_PROGRESS 1002, CONSENSUS_FAILED 1003, ROUND_CLOSED, ALREADY_VOTED) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Unsupported media type: send application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    datasets_list: {
        parameters: {
            query?: {
                limit?: number;
                offset?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DatasetList"];
                };
            };
            /** @description Invalid input (VALIDATION_ERROR with field details, or PARSE_ERROR) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    datasets_prepare: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["DatasetPrepareInputRequest"];
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Dataset"];
                };
            };
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Dataset"];
                };
            };
            /** @description Invalid input (VALIDATION_ERROR with field details, or PARSE_ERROR) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Authenticated but not allowed (staff only) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not found (NODE_NOT_FOUND 1001 for nodes) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflict (TRAINING_IN_PROGRESS 1002, CONSENSUS_FAILED 1003, ROUND_CLOSED, ALREADY_VOTED) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    datasets_retrieve: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Dataset"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not found (NODE_NOT_FOUND 1001 for nodes) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    models_list: {
        parameters: {
            query?: {
                limit?: number;
                offset?: number;
                /** @description a session id; empty or absent: all */
                session?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CheckpointList"];
                };
            };
            /** @description Invalid input (VALIDATION_ERROR with field details, or PARSE_ERROR) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    models_download: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                model_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description safetensors file */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": string;
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not found (NODE_NOT_FOUND 1001 for nodes) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description MODEL_CORRUPT 1004 */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    models_export: {
        parameters: {
            query?: {
                /**
                 * @description hf: Hugging Face
                 *
                 *     * `hf` - hf
                 */
                format?: "hf";
            };
            header?: never;
            path: {
                model_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description a Hugging Face model folder (config.json, model.safetensors with GPT-2's tensor names, generation_config.json, tokenizer.json, tokenizer_config.json): AutoModelForCausalLM and AutoTokenizer load it with no custom code */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/x-tar": string;
                };
            };
            /** @description Invalid input (VALIDATION_ERROR with field details, or PARSE_ERROR) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not found (NODE_NOT_FOUND 1001 for nodes) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description MODEL_CORRUPT 1004 */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    models_generate: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                model_id: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["GenerateInputRequest"];
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["GenerateOutput"];
                };
            };
            /** @description Invalid input (VALIDATION_ERROR with field details, or PARSE_ERROR) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not found (NODE_NOT_FOUND 1001 for nodes) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Unsupported media type: send application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description MODEL_CORRUPT 1004 */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    models_load: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["LoadInputRequest"];
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Checkpoint"];
                };
            };
            /** @description Invalid input (VALIDATION_ERROR with field details, or PARSE_ERROR) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Authenticated but not allowed (staff only) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not found (NODE_NOT_FOUND 1001 for nodes) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Unsupported media type: send application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description MODEL_CORRUPT 1004 */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    models_save: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["SaveInputRequest"];
            };
        };
        responses: {
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Checkpoint"];
                };
            };
            /** @description Invalid input (VALIDATION_ERROR with field details, or PARSE_ERROR) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Authenticated but not allowed (staff only) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not found (NODE_NOT_FOUND 1001 for nodes) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Unsupported media type: send application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    network_discover: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DiscoverOutput"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Authenticated but not allowed (staff only) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    network_metrics: {
        parameters: {
            query?: {
                limit?: number;
                offset?: number;
                /** @description a session id; absent: the running or latest session */
                session?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["NetworkMetrics"];
                };
            };
            /** @description Invalid input (VALIDATION_ERROR with field details, or PARSE_ERROR) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not found (NODE_NOT_FOUND 1001 for nodes) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    network_topology: {
        parameters: {
            query?: {
                limit?: number;
                offset?: number;
                /** @description a session id; absent: the running or latest session */
                session?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Topology"];
                };
            };
            /** @description Invalid input (VALIDATION_ERROR with field details, or PARSE_ERROR) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not found (NODE_NOT_FOUND 1001 for nodes) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    nodes_list: {
        parameters: {
            query?: {
                limit?: number;
                offset?: number;
                /** @description comma-separated: pending, active, training, idle, offline, left; empty or absent: all */
                status?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["NodeListOutput"];
                };
            };
            /** @description Invalid input (VALIDATION_ERROR with field details, or PARSE_ERROR) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    nodes_create: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["NodeCreateInputRequest"];
            };
        };
        responses: {
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["NodeDetailOutput"];
                };
            };
            /** @description Invalid input (VALIDATION_ERROR with field details, or PARSE_ERROR) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Authenticated but not allowed (staff only) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Unsupported media type: send application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    nodes_retrieve: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                node_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["NodeDetailOutput"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not found (NODE_NOT_FOUND 1001 for nodes) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    nodes_destroy: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                node_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description No response body */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Authenticated but not allowed (staff only) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not found (NODE_NOT_FOUND 1001 for nodes) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflict (TRAINING_IN_PROGRESS 1002, CONSENSUS_FAILED 1003, ROUND_CLOSED, ALREADY_VOTED) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    training_sessions_list: {
        parameters: {
            query?: {
                limit?: number;
                offset?: number;
                /**
                 * @description absent: any
                 *
                 *     * `running` - Running
                 *     * `stopping` - Stopping
                 *     * `stopped` - Stopped
                 *     * `completed` - Completed
                 *     * `failed` - Failed
                 */
                status?: "running" | "stopping" | "stopped" | "completed" | "failed";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionList"];
                };
            };
            /** @description Invalid input (VALIDATION_ERROR with field details, or PARSE_ERROR) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    training_sessions_retrieve: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                session_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionDetail"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not found (NODE_NOT_FOUND 1001 for nodes) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    training_start: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TrainingStartInputRequest"];
            };
        };
        responses: {
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TrainingStatus"];
                };
            };
            /** @description Invalid input (VALIDATION_ERROR with field details, or PARSE_ERROR) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Authenticated but not allowed (staff only) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not found (NODE_NOT_FOUND 1001 for nodes) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflict (TRAINING_IN_PROGRESS 1002, CONSENSUS_FAILED 1003, ROUND_CLOSED, ALREADY_VOTED) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Unsupported media type: send application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description NETWORK_PARTITION 1005 */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    training_status: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TrainingStatus"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not found (NODE_NOT_FOUND 1001 for nodes) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    training_stop: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TrainingStatus"];
                };
            };
            /** @description Missing, invalid or expired token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Authenticated but not allowed (staff only) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not found (NODE_NOT_FOUND 1001 for nodes) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Rate limited; see Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
}
