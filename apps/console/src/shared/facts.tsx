import { Table } from '@mantine/core';

// "label  value" rows: a key's details, a key as of an instant, a request from the ledger.
export const Facts = ({ rows, label }: { rows: [string, React.ReactNode][]; label?: string }) => (
  <Table withRowBorders={false} verticalSpacing={2} aria-label={label}>
    <Table.Tbody>
      {rows.map(([k, v]) => (
        <Table.Tr key={k}>
          <Table.Th w={170}>{k}</Table.Th>
          <Table.Td>{v}</Table.Td>
        </Table.Tr>
      ))}
    </Table.Tbody>
  </Table>
);
