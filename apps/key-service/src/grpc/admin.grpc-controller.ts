import type { Metadata } from '@grpc/grpc-js';
import { Controller, UseFilters, UseGuards } from '@nestjs/common';
import { AdminGrpcGuard, grpcCaller } from '@keygate/platform';
import { IssueAdminTokenDto } from '../admin-auth/admin-token.dto';
import { AdminTokensService } from '../admin-auth/admin-tokens.service';
import { AuditQuery } from '../audit/audit.dto';
import { AuditService } from '../audit/audit.service';
import { PageQuery } from '../page.dto';
import { KeyServiceRpc } from './key-service-rpc';
import { GrpcExceptionFilter } from './grpc-exception.filter';
import { defined, requireId, validated } from './grpc-validation';
import { adminTokenMessage, auditMessage, page, pageInput, type PageRequest } from './key-service.messages';

interface AuditRequest extends PageRequest {
  aggregate_id?: string;
  type?: string;
  from?: string;
  to?: string;
}

// keygate.keys.v1.KeyService, admin token and audit RPCs.
@Controller()
@UseGuards(AdminGrpcGuard)
@UseFilters(GrpcExceptionFilter)
export class AdminGrpcController {
  constructor(
    private readonly tokens: AdminTokensService,
    private readonly audit: AuditService,
  ) {}

  @KeyServiceRpc('IssueAdminToken', 'write')
  async issueAdminToken(req: { name?: string; role?: string }, metadata: Metadata) {
    const dto = await validated(IssueAdminTokenDto, defined({ name: req.name, role: req.role }));
    const { token, ...resource } = await this.tokens.issue(dto, grpcCaller(metadata));
    return { admin_token: adminTokenMessage(resource), token };
  }

  @KeyServiceRpc('ListAdminTokens', 'read')
  async listAdminTokens(req: PageRequest) {
    const q = await validated(PageQuery, pageInput(req));
    return page(await this.tokens.list(q.limit, q.cursor), adminTokenMessage);
  }

  @KeyServiceRpc('RevokeAdminToken', 'write')
  async revokeAdminToken(req: { token_id?: string }, metadata: Metadata) {
    return adminTokenMessage(
      await this.tokens.revoke(requireId(req.token_id, 'token_id'), grpcCaller(metadata)),
    );
  }

  @KeyServiceRpc('ListAuditEvents', 'read')
  async listAuditEvents(req: AuditRequest) {
    const q = await validated(
      AuditQuery,
      defined({
        ...pageInput(req),
        aggregateId: req.aggregate_id,
        type: req.type,
        from: req.from,
        to: req.to,
      }),
    );
    return page(await this.audit.list(q), auditMessage);
  }
}
